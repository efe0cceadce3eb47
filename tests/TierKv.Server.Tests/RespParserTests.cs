using System.Text;
using CsCheck;
using TierKv.Server.Protocol;

namespace TierKv.Server.Tests;

public class RespParserTests
{
    private static readonly FrameLimits Limits = new(MaxArrayLength: 64, MaxBulkBytes: 1 << 20, MaxLineBytes: 1024, LargeArgBytes: 4096, MaxCommandBytes: 64 << 10);

    private static ParseStatus Parse(byte[] input, out int argc, out int consumed, out long tail, out string? error)
    {
        var args = new ArgRange[Limits.MaxArrayLength];
        return RespParser.TryParse(input, Limits, args, out argc, out consumed, out tail, out error);
    }

    private static byte[] Frame(params string[] args)
    {
        var sb = new StringBuilder().Append('*').Append(args.Length).Append("\r\n");
        foreach (var a in args)
        {
            sb.Append('$').Append(Encoding.UTF8.GetByteCount(a)).Append("\r\n").Append(a).Append("\r\n");
        }

        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    [Fact]
    public void Parses_a_command_and_locates_its_arguments()
    {
        var f = Frame("SET", "key", "value");
        var args = new ArgRange[8];
        Assert.Equal(ParseStatus.Complete, RespParser.TryParse(f, Limits, args, out int argc, out int consumed, out _, out _));
        Assert.Equal(3, argc);
        Assert.Equal(f.Length, consumed);
        Assert.Equal("value", Encoding.UTF8.GetString(f, args[2].Offset, args[2].Length));
    }

    [Fact]
    public void Parses_inline_commands()
    {
        var f = Encoding.ASCII.GetBytes("PING hello\r\n");
        Assert.Equal(ParseStatus.Complete, Parse(f, out int argc, out int consumed, out _, out _));
        Assert.Equal(2, argc);
        Assert.Equal(f.Length, consumed);
    }

    [Fact]
    public void A_large_last_argument_is_left_to_stream()
    {
        var header = Encoding.ASCII.GetBytes("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n");
        Assert.Equal(ParseStatus.LargeTail, Parse(header, out int argc, out int consumed, out long tail, out _));
        Assert.Equal(3, argc);
        Assert.Equal(header.Length, consumed);
        Assert.Equal(100000, tail);
    }

    [Theory]
    [InlineData("*99999999\r\n")]
    [InlineData("*3\r\n$99999999999\r\n")]
    [InlineData("*1\r\n$-5\r\n")]
    [InlineData("*3\r\n$3\r\nGET\r\n$5000\r\n")]
    [InlineData("*1\r\n:5\r\n")]
    [InlineData("*x\r\n")]
    [InlineData("*1\r\n$3\r\nGETXX")]
    [InlineData("*1\r\n$1111111111111111111111111111111111111111111")]
    public void Absurd_or_malformed_frames_are_errors(string frame)
    {
        Assert.Equal(ParseStatus.Error, Parse(Encoding.ASCII.GetBytes(frame), out _, out _, out _, out string? error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void Random_bytes_never_throw_and_never_claim_more_than_they_hold()
    {
        Gen.Byte.Array[0, 300].Sample(bytes =>
        {
            var st = Parse(bytes, out int argc, out int consumed, out long tail, out _);
            Assert.InRange(consumed, 0, bytes.Length);
            Assert.InRange(argc, 0, Limits.MaxArrayLength);
            Assert.InRange(tail, 0, Limits.MaxBulkBytes);
            Assert.True(st != ParseStatus.Complete || consumed > 0);
        }, iter: 20000);
    }

    [Fact]
    public void Random_commands_round_trip_and_every_truncation_is_incomplete()
    {
        var gen = Gen.String[Gen.Char.AlphaNumeric, 0, 40].Array[1, 6];
        gen.Sample(args =>
        {
            var f = Frame(args);
            Assert.Equal(ParseStatus.Complete, Parse(f, out int argc, out int consumed, out _, out _));
            Assert.Equal(args.Length, argc);
            Assert.Equal(f.Length, consumed);
            for (int cut = 1; cut < f.Length; cut++)
            {
                Assert.Equal(ParseStatus.Incomplete, Parse(f[..cut], out _, out _, out _, out _));
            }
        }, iter: 2000);
    }

    [Fact]
    public void Mutated_commands_are_complete_incomplete_or_an_error_never_a_crash()
    {
        var gen = Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 1, 20].Array[1, 5], Gen.Int[0, 1000], Gen.Byte);
        gen.Sample((args, at, b) =>
        {
            var f = Frame(args);
            f[at % f.Length] = b;
            var st = Parse(f, out _, out int consumed, out _, out _);
            Assert.True(Enum.IsDefined(st));
            Assert.InRange(consumed, 0, f.Length);
        }, iter: 20000);
    }
}
