using Spectre.Console.Cli;

namespace TierKv.Cli.Commands;

internal sealed class DemoCommand : Command<DemoCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) => 0;
}
