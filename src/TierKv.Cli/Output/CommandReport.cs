namespace TierKv.Cli.Output;

/// <summary>
/// A command's result, written one of two ways from the same fields: with <c>--json</c> the fields as one JSON object
/// on standard output (scripts and checks read it; its field names are an interface), else the tables and lines built
/// from them, in the order they were added. Table cells read the fields through the indexer, so a figure shows the
/// same in both.
/// </summary>
internal sealed class CommandReport(JsonObject fields)
{
    private readonly List<Action<IAnsiConsole>> _parts = [];
    private Table? _table;

    /// <summary>The JSON object written with <c>--json</c>.</summary>
    public JsonObject Fields { get; } = fields;

    /// <summary>A field as a table shows it (a number as JSON writes it, a string without quotes); empty when absent.</summary>
    public string this[string field] => Fields[field]?.ToString() ?? "";

    /// <summary>Starts a table with these column headers; <see cref="Row"/> adds to it.</summary>
    public CommandReport Table(params string[] columns) => Table(new Table().AddColumns(columns));

    /// <summary>Starts <paramref name="table"/> (already titled and with columns); <see cref="Row"/> adds to it.</summary>
    public CommandReport Table(Table table)
    {
        _table = table;
        _parts.Add(console => console.Write(table));
        return this;
    }

    /// <summary>Adds a row of cells (Spectre markup) to the current table.</summary>
    public CommandReport Row(params string[] cells)
    {
        (_table ?? throw new InvalidOperationException("Start a table before adding rows.")).AddRow(cells);
        return this;
    }

    /// <summary>Adds a line of Spectre markup.</summary>
    public CommandReport Line(string markup)
    {
        _parts.Add(console => console.MarkupLine(markup));
        return this;
    }

    /// <summary>Adds plain text written as it is (no markup), with a line end.</summary>
    public CommandReport Text(string text)
    {
        _parts.Add(_ => Console.Out.WriteLine(text));
        return this;
    }

    /// <summary>Writes the JSON object when <paramref name="json"/>, else the tables and lines; returns <paramref name="exitCode"/>.</summary>
    public int Write(bool json, int exitCode = 0)
    {
        if (json)
        {
            JsonOutput.Write(Fields);
            return exitCode;
        }

        var console = AnsiConsole.Console;
        foreach (var part in _parts)
        {
            part(console);
        }

        return exitCode;
    }
}
