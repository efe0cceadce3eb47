using System.Text;

namespace TierKv.Server.Tests.Lmcache;

/// <summary>
/// A burst's effect on the managed heap. Runs with the allocation tests, alone: the heap is the process's, and a test
/// running beside it (in CI, once, another class's server) made it grow by 108 MiB.
/// </summary>
[Collection(nameof(AllocationTests))]
public sealed class RedisBurstMemoryTests
{
    [Fact]
    public async Task A_pipelined_burst_past_the_dram_tier_is_answered_in_full_with_memory_bounded()
    {
        // 600 SETs of 256 KiB (150 MiB) into a 16 MiB DRAM tier, pipelined on one connection while another thread reads
        // the replies: every command is answered (+OK, the oldest values evicted), and the server's managed heap does
        // not grow with the burst (values go to DRAM records, not buffers).
        await using var s = TestServer.Start(new ServerOptions { DramBytes = 16L << 20, SlotBytes = 300 << 10 });
        using var raw = s.Raw();
        const int n = 600;
        var value = new byte[256 << 10];
        var header = Encoding.ASCII.GetBytes($"*3\r\n$3\r\nSET\r\n$6\r\nburst0\r\n${value.Length}\r\n");
        long heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        var reader = Task.Run(() =>
        {
            var replies = new StringBuilder();
            var buf = new byte[4096];
            int ok = 0;
            while (ok < n)
            {
                int got = raw.Receive(buf);
                if (got == 0)
                {
                    break;
                }

                replies.Append(Encoding.ASCII.GetString(buf, 0, got));
                ok = replies.ToString().Split("\r\n").Count(l => l.Length > 0);
            }

            return replies.ToString();
        });
        for (int i = 0; i < n; i++)
        {
            header[^12] = (byte)('0' + (i % 10));
            raw.Send(header);
            raw.Send(value);
            raw.Send("\r\n"u8.ToArray());
        }

        string all = await reader.WaitAsync(TimeSpan.FromSeconds(60));
        var lines = all.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(n, lines.Length);
        Assert.All(lines, l => Assert.True(l == "+OK" || l.StartsWith("-ERR", StringComparison.Ordinal), l));
        long heapAfter = GC.GetTotalMemory(forceFullCollection: true);
        Assert.True(heapAfter - heapBefore < 32L << 20, $"managed heap grew by {(heapAfter - heapBefore) >> 20} MiB during a 150 MiB burst");
        raw.Send("*1\r\n$4\r\nPING\r\n");
        Assert.Equal("+PONG\r\n", raw.ReadExactly(7));
    }
}
