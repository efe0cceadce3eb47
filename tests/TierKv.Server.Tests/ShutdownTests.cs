using System.Text;
using TierKv.Keys;
using TierKv.Server.Protocol;

namespace TierKv.Server.Tests;

public class ShutdownTests
{
    [Fact]
    public async Task Graceful_shutdown_finishes_and_acknowledges_the_write_in_flight()
    {
        var s = TestServer.Start();
        try
        {
            using var idle = s.Client();
            idle.Ping();
            using var raw = s.Raw();
            var value = new byte[300_000];
            new Random(5).NextBytes(value);
            raw.Send("*3\r\n$3\r\nSET\r\n$8\r\ninflight\r\n$300000\r\n");
            raw.Send(value.AsSpan(0, 100_000));

            // Wait until the server is receiving the value, then shut down while the rest is still to come.
            Assert.True(SpinWait.SpinUntil(() => s.Server.FramesInFlight == 1, TimeSpan.FromSeconds(10)));
            var stop = s.Server.StopAsync();
            Assert.False(stop.IsCompleted);
            raw.Send(value.AsSpan(100_000));
            raw.Send("\r\n");
            Assert.Equal("+OK\r\n", raw.ReadExactly(5));
            await stop.WaitAsync(TimeSpan.FromSeconds(20));

            // The idle client was closed; the acknowledged value is in the store.
            Assert.Throws<IOException>(idle.Ping);
            var tenant = s.Server.Tenants.All[0];
            Assert.True(KeyNames.TryMap("inflight"u8, out var key));
            var record = new byte[s.Server.Tenants.RecordBytes];
            Assert.True(tenant.Dram.TryRead(key, record));
            Assert.True(ValueRecord.TryRead(record, out var info));
            Assert.Equal(value.Length, info.ValueLength);
            Assert.Equal(value, record.AsSpan(info.ValueOffset, value.Length).ToArray());
        }
        finally
        {
            await s.DisposeAsync();
        }
    }

    [Fact]
    public async Task No_acknowledged_write_is_lost_when_shutdown_races_many_writers()
    {
        var s = TestServer.Start(new ServerOptions { DramBytes = 512L << 20, SlotBytes = 64 << 10 });
        var acked = new System.Collections.Concurrent.ConcurrentBag<string>();
        try
        {
            var writers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
            {
                using var c = s.Client();
                var v = new byte[40_000];
                for (int i = 0; i < 1500; i++)
                {
                    string name = $"w{w}-{i}";
                    try
                    {
                        c.Set(Encoding.ASCII.GetBytes(name), v);
                    }
                    catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
                    {
                        return;
                    }

                    acked.Add(name);
                }
            })).ToArray();
            while (acked.Count < 200)
            {
                await Task.Delay(5);
            }

            await s.Server.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
            await Task.WhenAll(writers).WaitAsync(TimeSpan.FromSeconds(30));
            var tenant = s.Server.Tenants.All[0];
            foreach (var name in acked)
            {
                Assert.True(KeyNames.TryMap(Encoding.ASCII.GetBytes(name), out var key));
                Assert.True(tenant.Dram.Contains(key), $"acknowledged write {name} is missing");
            }
        }
        finally
        {
            await s.DisposeAsync();
        }
    }
}
