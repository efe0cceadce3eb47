namespace TierKv.Server.Tenants;

/// <summary>When a SET may publish its value: always, only if the key is absent (<c>NX</c>) or present (<c>XX</c>).</summary>
internal enum SetCondition
{
    Always,
    IfAbsent,
    IfPresent,
}
