using System.Globalization;
using System.Text;
using TierKv.Server.Client;

namespace TierKv.Server.Tests;

/// <summary>
/// The crash loop of docs/operations.md: writers record what <c>tierkv serve</c> acknowledged, the server is killed with
/// SIGKILL at random moments (while it writes behind, evicts, and sometimes while it recovers), restarted on the same
/// folder, and every value read must be a version that was sent, never older than the one acknowledged before the
/// last quiet moment. <c>TIERKV_CRASH_ROUNDS</c> sets the rounds (CI runs a few; a nightly run many).
/// </summary>
public sealed class CrashLoopTests : IDisposable
{
    private const int Writers = 3;
    private const int KeysPerWriter = 30;
    private const int ValueBytes = 48 << 10;
    private static readonly int Rounds = int.TryParse(Environment.GetEnvironmentVariable("TIERKV_CRASH_ROUNDS"), out int n) ? n : 4;
    private readonly string _dir = Path.Combine("/var/tmp", "tierkv-crashloop-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    [Fact]
    public async Task After_kill_9_at_random_moments_every_value_is_a_sent_version_no_older_than_the_last_quiet_moment()
    {
        string? cli = CliProcess.Find();
        Assert.NotNull(cli);
        int port = ServeProcess.FreePort();
        string[] args = ["--data", _dir, "--ssd", "256m"];
        var sent = new int[Writers * KeysPerWriter];
        var acked = new int[Writers * KeysPerWriter];
        var rng = new Random(20261203);
        int version = 0;
        for (int round = 0; round < Rounds; round++)
        {
            if (round % 2 == 1)
            {
                // A crash during recovery itself: start, and kill before it can answer.
                using var early = await StartUnwaitedAsync(cli!, port, args);
                await Task.Delay(rng.Next(5, 120));
                early.Kill();
            }

            using var server = await ServeProcess.StartAsync(cli!, port, args);
            var floor = (int[])acked.Clone(); // acknowledged before the previous round's quiet moment, checked below
            Verify(port, sent, floor);

            // Write, go quiet (every acknowledged value reaches the disk), write again, and kill in the middle.
            await WriteForAsync(port, sent, acked, () => Interlocked.Increment(ref version), TimeSpan.FromMilliseconds(rng.Next(200, 700)));
            await Task.Delay(600);
            Array.Copy(acked, floor, acked.Length);
            using var stop = new CancellationTokenSource();
            var writing = WriteForAsync(port, sent, acked, () => Interlocked.Increment(ref version), Timeout.InfiniteTimeSpan, stop.Token);
            await Task.Delay(rng.Next(20, 400));
            server.Kill();
            stop.Cancel();
            await writing;
            Array.Copy(floor, acked, acked.Length);
        }

        using var last = await ServeProcess.StartAsync(cli!, port, args);
        Verify(port, sent, acked);
    }

    private static Task<ServeProcess> StartUnwaitedAsync(string cli, int port, string[] args) =>
        Task.FromResult(ServeProcess.Spawn(cli, port, args));

    /// <summary>Each writer overwrites its own keys in turn until the time is up, the token fires, or the server dies.</summary>
    private static Task WriteForAsync(int port, int[] sent, int[] acked, Func<int> nextVersion, TimeSpan duration, CancellationToken token = default)
    {
        var until = duration == Timeout.InfiniteTimeSpan ? DateTime.MaxValue : DateTime.UtcNow + duration;
        var tasks = Enumerable.Range(0, Writers).Select(w => Task.Run(() =>
        {
            var value = new byte[ValueBytes];
            try
            {
                using var c = TierKvClient.Connect("127.0.0.1", port);
                for (int i = 0; DateTime.UtcNow < until && !token.IsCancellationRequested; i++)
                {
                    int key = (w * KeysPerWriter) + (i % KeysPerWriter);
                    int v = nextVersion();
                    Fill(value, key, v);
                    Volatile.Write(ref sent[key], v);
                    c.Set(Name(key), value);
                    Volatile.Write(ref acked[key], v);
                }
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or TierKvServerException)
            {
                // The server was killed under this writer.
            }
        }));
        return Task.WhenAll(tasks);
    }

    private static void Verify(int port, int[] sent, int[] floor)
    {
        using var c = TierKvClient.Connect("127.0.0.1", port);
        var dest = new byte[ValueBytes];
        for (int key = 0; key < sent.Length; key++)
        {
            int len = c.Get(Name(key), dest);
            if (len < 0)
            {
                Assert.True(floor[key] == 0, $"key {key}: lost; version {floor[key]} was acknowledged before the last quiet moment");
                continue;
            }

            Assert.Equal(ValueBytes, len);
            int v = Parse(dest, key);
            Assert.True(v >= floor[key], $"key {key}: version {v} came back, older than version {floor[key]} acknowledged before the last quiet moment");
            Assert.True(v <= sent[key], $"key {key}: version {v} was never sent");
        }
    }

    private static void Fill(byte[] value, int key, int version)
    {
        value.AsSpan().Fill((byte)(key ^ version));
        Encoding.ASCII.GetBytes($"{key}:{version}:").CopyTo(value, 0);
    }

    private static int Parse(byte[] value, int key)
    {
        string head = Encoding.ASCII.GetString(value, 0, 32);
        var parts = head.Split(':');
        Assert.Equal(key.ToString(CultureInfo.InvariantCulture), parts[0]);
        int v = int.Parse(parts[1], CultureInfo.InvariantCulture);
        var expected = new byte[ValueBytes];
        Fill(expected, key, v);
        Assert.True(expected.AsSpan().SequenceEqual(value), $"key {key}: version {v} is torn");
        return v;
    }

    private static byte[] Name(int key) => Encoding.ASCII.GetBytes("crash-" + key.ToString(CultureInfo.InvariantCulture));
}
