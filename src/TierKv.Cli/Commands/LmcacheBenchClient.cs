using System.Buffers.Text;
using System.Net.Sockets;
using System.Text;

namespace TierKv.Cli.Commands;

/// <summary>
/// One connection issuing LMCache's Redis commands for <c>tierkv bench server --workload lmcache</c>, pipelined as the
/// batched connectors do: a chunk's <c>SET key+"kv_bytes"</c> and <c>SET key+"metadata"</c> in one send, a batch's
/// <c>EXISTS key+"metadata"</c> in one send, and a chunk's <c>GET</c> of metadata then kv_bytes in one send, each value
/// received straight into the caller's buffer. The same code drives tierkv serve and redis-server.
/// </summary>
internal sealed class LmcacheBenchClient : IDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _in = new byte[64 << 10];
    private readonly byte[] _out = new byte[64 << 10];
    private readonly List<ArraySegment<byte>> _gather = new(4);
    private int _start;
    private int _end;

    public LmcacheBenchClient(int port)
    {
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _socket.Connect("127.0.0.1", port);
    }

    /// <summary>SET kv_bytes and SET metadata, pipelined; throws unless both answer +OK.</summary>
    public void PutChunk(byte[] kvName, byte[] value, byte[] metaName, byte[] metadata)
    {
        int n = Header(_out, 0, 3, "SET"u8, kvName, value.Length);
        int tail = n;
        _out[tail++] = (byte)'\r';
        _out[tail++] = (byte)'\n';
        tail = Header(_out, tail, 3, "SET"u8, metaName, metadata.Length);
        metadata.CopyTo(_out, tail);
        tail += metadata.Length;
        _out[tail++] = (byte)'\r';
        _out[tail++] = (byte)'\n';
        _gather.Clear();
        _gather.Add(new ArraySegment<byte>(_out, 0, n));
        _gather.Add(new ArraySegment<byte>(value));
        _gather.Add(new ArraySegment<byte>(_out, n, tail - n));
        SendAll(_gather);
        Expect("+OK\r\n"u8);
        Expect("+OK\r\n"u8);
    }

    /// <summary>EXISTS of each metadata key, pipelined; returns how many leading keys exist (LMCache's contains).</summary>
    public int LeadingExisting(byte[][] metaNames)
    {
        int pos = 0;
        int leading = 0;
        for (int i = 0; i < metaNames.Length; i++)
        {
            if (pos + metaNames[i].Length + 64 > _out.Length)
            {
                _socket.Send(_out.AsSpan(0, pos));
                pos = 0;
            }

            pos = Header(_out, pos, 2, "EXISTS"u8, metaNames[i], -1);
        }

        _socket.Send(_out.AsSpan(0, pos));
        bool run = true;
        for (int i = 0; i < metaNames.Length; i++)
        {
            long v = ReadInteger();
            run &= v == 1;
            leading += run ? 1 : 0;
        }

        return leading;
    }

    /// <summary>GET metadata then GET kv_bytes, pipelined; the KV bytes land in <paramref name="destination"/>. Returns their length (-1: missing).</summary>
    public int GetChunk(byte[] metaName, byte[] kvName, byte[] metadata, byte[] destination)
    {
        int pos = Header(_out, 0, 2, "GET"u8, metaName, -1);
        pos = Header(_out, pos, 2, "GET"u8, kvName, -1);
        _socket.Send(_out.AsSpan(0, pos));
        int m = ReadBulkInto(metadata);
        int kv = ReadBulkInto(destination);
        return m < 0 ? -1 : kv;
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>Writes <c>*argc $name cmd $len key</c> and, when <paramref name="valueLength"/> is not negative, the value's <c>$len</c> line.</summary>
    private static int Header(byte[] b, int pos, int argc, ReadOnlySpan<byte> cmd, byte[] key, int valueLength)
    {
        pos = Line(b, pos, (byte)'*', argc);
        pos = Line(b, pos, (byte)'$', cmd.Length);
        cmd.CopyTo(b.AsSpan(pos));
        pos += cmd.Length;
        b[pos++] = (byte)'\r';
        b[pos++] = (byte)'\n';
        pos = Line(b, pos, (byte)'$', key.Length);
        key.CopyTo(b, pos);
        pos += key.Length;
        b[pos++] = (byte)'\r';
        b[pos++] = (byte)'\n';
        return valueLength >= 0 ? Line(b, pos, (byte)'$', valueLength) : pos;
    }

    private static int Line(byte[] b, int pos, byte prefix, long n)
    {
        b[pos++] = prefix;
        Utf8Formatter.TryFormat(n, b.AsSpan(pos), out int w);
        pos += w;
        b[pos++] = (byte)'\r';
        b[pos++] = (byte)'\n';
        return pos;
    }

    private void SendAll(List<ArraySegment<byte>> parts)
    {
        long total = 0;
        foreach (var p in parts)
        {
            total += p.Count;
        }

        long sent = _socket.Send(parts);
        if (sent != total)
        {
            // A blocking socket sends everything; anything else is a broken connection.
            throw new IOException($"sent {sent} of {total} bytes");
        }
    }

    private void Fill()
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }
        else if (_end == _in.Length)
        {
            Buffer.BlockCopy(_in, _start, _in, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        int n = _socket.Receive(_in, _end, _in.Length - _end, SocketFlags.None);
        if (n == 0)
        {
            throw new IOException("the server closed the connection");
        }

        _end += n;
    }

    private ReadOnlySpan<byte> ReadLine()
    {
        while (true)
        {
            int nl = _in.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (nl >= 0)
            {
                var line = _in.AsSpan(_start, nl - 1);
                _start += nl + 1;
                return line;
            }

            Fill();
        }
    }

    private void Expect(ReadOnlySpan<byte> reply)
    {
        var line = ReadLine();
        if (!line.SequenceEqual(reply[..^2]))
        {
            throw new InvalidOperationException($"expected {Encoding.ASCII.GetString(reply).Trim()}, got {Encoding.ASCII.GetString(line)}");
        }
    }

    private long ReadInteger()
    {
        var line = ReadLine();
        if (line.Length < 2 || line[0] != (byte)':' || !Utf8Parser.TryParse(line[1..], out long v, out _))
        {
            throw new InvalidOperationException($"expected an integer, got {Encoding.ASCII.GetString(line)}");
        }

        return v;
    }

    private int ReadBulkInto(byte[] destination)
    {
        var line = ReadLine();
        if (line.Length < 2 || line[0] != (byte)'$' || !Utf8Parser.TryParse(line[1..], out int len, out _))
        {
            throw new InvalidOperationException($"expected a bulk string, got {Encoding.ASCII.GetString(line)}");
        }

        if (len < 0)
        {
            return -1;
        }

        if (len > destination.Length)
        {
            throw new InvalidOperationException($"a value of {len} bytes for a buffer of {destination.Length}");
        }

        int have = Math.Min(len, _end - _start);
        Buffer.BlockCopy(_in, _start, destination, 0, have);
        _start += have;
        while (have < len)
        {
            int n = _socket.Receive(destination, have, len - have, SocketFlags.None);
            if (n == 0)
            {
                throw new IOException("the server closed the connection mid-value");
            }

            have += n;
        }

        Expect("\r\n"u8);
        return len;
    }
}
