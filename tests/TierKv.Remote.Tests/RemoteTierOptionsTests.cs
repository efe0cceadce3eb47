namespace TierKv.Remote.Tests;

public class RemoteTierOptionsTests
{
    private static RemoteTierOptions Valid => RemoteTierOptions.FromEndpoints("127.0.0.1:7001, 10.0.0.2:7002,[::1]:7003");

    [Fact]
    public void Defaults_with_endpoints_are_valid()
    {
        Valid.Validate();
        Assert.Equal(3, Valid.Endpoints.Count);
        Assert.True(Valid.WorstCaseLookup <= Valid.LookupBudget);
    }

    [Theory]
    [InlineData("", "Endpoints")]
    [InlineData("localhost", "HOST:PORT")]
    [InlineData("localhost:0", "HOST:PORT")]
    [InlineData("localhost:70000", "HOST:PORT")]
    [InlineData("a b:7000", "HOST:PORT")]
    public void Bad_endpoints_are_named(string endpoints, string expected)
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() => RemoteTierOptions.FromEndpoints(endpoints).Validate());
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tier{kv}")]
    [InlineData("tier kv")]
    [InlineData("")]
    public void A_prefix_that_would_break_the_hash_tag_or_the_key_is_refused(string prefix)
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() => (Valid with { KeyPrefix = prefix }).Validate());
        Assert.Contains("KeyPrefix", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_budget_smaller_than_the_attempts_it_must_hold_is_refused_with_the_arithmetic()
    {
        var o = Valid with { LookupTimeout = TimeSpan.FromMilliseconds(100), Retries = 2, RetryDelay = TimeSpan.FromMilliseconds(10), LookupBudget = TimeSpan.FromMilliseconds(250) };
        var ex = Assert.Throws<ArgumentException>(o.Validate);
        Assert.Contains("LookupBudget", ex.Message, StringComparison.Ordinal);
        Assert.Contains("320", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Timeouts_and_breaker_settings_out_of_range_are_named()
    {
        Assert.Contains("LookupTimeout", Assert.ThrowsAny<ArgumentException>((Valid with { LookupTimeout = TimeSpan.Zero }).Validate).Message, StringComparison.Ordinal);
        Assert.Contains("ValueTimeout", Assert.ThrowsAny<ArgumentException>((Valid with { ValueTimeout = TimeSpan.FromMilliseconds(-1) }).Validate).Message, StringComparison.Ordinal);
        Assert.Contains("Retries", Assert.ThrowsAny<ArgumentException>((Valid with { Retries = -1 }).Validate).Message, StringComparison.Ordinal);
        Assert.Contains("BreakerFailureRatio", Assert.ThrowsAny<ArgumentException>((Valid with { BreakerFailureRatio = 0 }).Validate).Message, StringComparison.Ordinal);
        Assert.Contains("BreakDuration", Assert.ThrowsAny<ArgumentException>((Valid with { BreakDuration = TimeSpan.FromMilliseconds(1) }).Validate).Message, StringComparison.Ordinal);
        Assert.Contains("BulkConnections", Assert.ThrowsAny<ArgumentException>((Valid with { BulkConnections = 0 }).Validate).Message, StringComparison.Ordinal);
    }
}
