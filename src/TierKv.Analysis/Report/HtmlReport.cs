using System.Globalization;
using System.Net;
using System.Text;

namespace TierKv.Analysis.Report;

/// <summary>Writes <c>index.html</c>: one self-contained page (inline SVG plots, no scripts, no external files).</summary>
public static class HtmlReport
{
    private static readonly string[] Colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#111111", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"];

    /// <summary>Writes the report into <paramref name="directory"/> (created if needed) and returns the page's path.</summary>
    public static string Write(TraceAnalysis analysis, string directory)
    {
        ArgumentNullException.ThrowIfNull(analysis);
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, "index.html");
        File.WriteAllText(path, Render(analysis), Encoding.UTF8);
        return path;
    }

    /// <summary>The page's HTML.</summary>
    public static string Render(TraceAnalysis a)
    {
        ArgumentNullException.ThrowIfNull(a);
        var inv = CultureInfo.InvariantCulture;
        var s = a.Statistics;
        var h = new StringBuilder();
        h.Append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>TierKV analysis: ").Append(E(a.Trace.Name)).Append("</title>");
        h.Append("<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}</style></head><body>");
        h.Append("<h1>Access-pattern analysis: ").Append(E(a.Trace.Name)).Append("</h1>");
        h.Append(inv, $"<p>{s.Requests:N0} requests over {s.SpanSeconds:F0} s ({s.RequestsPerSecond:F2}/s); mean input {s.MeanInputTokens:F0} tokens (median {s.MedianInputTokens}, p99 {s.P99InputTokens}); {s.BlockAccesses:N0} block accesses of {a.Trace.BlockTokens} tokens, {s.UniqueBlocks:N0} distinct. ");
        h.Append(inv, $"An infinite cache hits <b>{a.Infinite.HitRatio:F4}</b> of all blocks (the reuse fraction). Median reuse distance {a.Reuse.MedianDistance:N0} blocks, p90 {a.Reuse.P90Distance:N0}.</p>");
        h.Append("<p>Semantics: requests in file order; a request's hits are the leading run of its blocks already cached; then every block of it is accessed in order. Hit ratio = hit blocks / all blocks. The default policy is <b>").Append(E(a.DefaultPolicy)).Append("</b>.</p>");
        h.Append("<h2>Hit ratio by capacity</h2>").Append(CurvePlot(a));
        h.Append("<table><tr><th>policy</th>");
        foreach (int c in a.Capacities)
        {
            h.Append(inv, $"<th>{c:N0}</th>");
        }

        h.Append("</tr>");
        foreach (string p in a.Policies)
        {
            h.Append("<tr><td>").Append(E(p)).Append(p == a.DefaultPolicy ? " (default)" : string.Empty).Append("</td>");
            foreach (int c in a.Capacities)
            {
                h.Append(inv, $"<td>{a.HitRatio(p, c):F4}</td>");
            }

            h.Append("</tr>");
        }

        h.Append("</table><h2>Reuse distance</h2><p>Distinct blocks accessed between two accesses of the same block: an LRU cache larger than the distance keeps the block.</p>").Append(ReusePlot(a));
        var z = a.Sizing;
        h.Append(inv, $"<h2>Sizing for {E(z.Model)}</h2><p>{z.BytesPerToken / 1024} KiB of KV per token; policy {E(z.Policy)}; attainable hit ratio {z.Attainable:F4}.</p><table><tr><th>target</th><th>hit ratio</th><th>blocks</th><th>tokens</th><th>GiB</th></tr>");
        foreach (var t in z.Targets)
        {
            h.Append(inv, $"<tr><td>{t.Fraction:P0} of attainable</td><td>{t.HitRatio:F4}</td><td>{t.Blocks:N0}</td><td>{t.Tokens:N0}</td><td>{t.Bytes / (double)(1L << 30):F1}</td></tr>");
        }

        h.Append(inv, $"</table><p>Recommendation: DRAM tier {z.DramBytes / (double)(1L << 30):F1} GiB (50% of attainable), SSD tier {z.SsdBytes / (double)(1L << 30):F1} GiB (99%).</p></body></html>");
        return h.ToString();
    }

    private static string CurvePlot(TraceAnalysis a)
    {
        const int W = 900, H = 420, L = 60, R = 160, T = 20, B = 50;
        var inv = CultureInfo.InvariantCulture;
        double minC = Math.Log10(a.Capacities.Min()), maxC = Math.Log10(Math.Max(a.Capacities.Max(), a.Capacities.Min() + 1));
        if (maxC - minC < 1e-9)
        {
            maxC = minC + 1;
        }

        double maxY = Math.Max(0.05, a.Curves.Max(r => r.HitRatio) * 1.1);
        double X(int c) => L + ((Math.Log10(c) - minC) / (maxC - minC) * (W - L - R));
        double Y(double v) => T + ((1 - (v / maxY)) * (H - T - B));
        var sb = new StringBuilder();
        sb.Append(inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-size=\"12\">");
        sb.Append(inv, $"<line x1=\"{L}\" y1=\"{H - B}\" x2=\"{W - R}\" y2=\"{H - B}\" stroke=\"#444\"/><line x1=\"{L}\" y1=\"{T}\" x2=\"{L}\" y2=\"{H - B}\" stroke=\"#444\"/>");
        for (int i = 0; i <= 5; i++)
        {
            double v = maxY * i / 5;
            sb.Append(inv, $"<text x=\"{L - 6}\" y=\"{Y(v) + 4:F1}\" text-anchor=\"end\">{v:F2}</text><line x1=\"{L}\" y1=\"{Y(v):F1}\" x2=\"{W - R}\" y2=\"{Y(v):F1}\" stroke=\"#eee\"/>");
        }

        foreach (int c in a.Capacities)
        {
            sb.Append(inv, $"<text x=\"{X(c):F1}\" y=\"{H - B + 16}\" text-anchor=\"middle\">{c:N0}</text>");
        }

        sb.Append(inv, $"<text x=\"{(L + W - R) / 2}\" y=\"{H - 10}\" text-anchor=\"middle\">capacity (blocks, log scale)</text>");
        sb.Append(inv, $"<line x1=\"{L}\" y1=\"{Y(a.Infinite.HitRatio):F1}\" x2=\"{W - R}\" y2=\"{Y(a.Infinite.HitRatio):F1}\" stroke=\"#999\" stroke-dasharray=\"4 4\"/><text x=\"{W - R + 4}\" y=\"{Y(a.Infinite.HitRatio) + 4:F1}\">infinite</text>");
        for (int p = 0; p < a.Policies.Count; p++)
        {
            string name = a.Policies[p];
            string color = Colors[p % Colors.Length];
            var pts = string.Join(' ', a.Capacities.Select(c => string.Create(inv, $"{X(c):F1},{Y(a.HitRatio(name, c)):F1}")));
            sb.Append(inv, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"{(name == a.DefaultPolicy ? 3 : 1.5)}\" points=\"{pts}\"/>");
            foreach (int c in a.Capacities)
            {
                sb.Append(inv, $"<circle cx=\"{X(c):F1}\" cy=\"{Y(a.HitRatio(name, c)):F1}\" r=\"3\" fill=\"{color}\"/>");
            }

            sb.Append(inv, $"<rect x=\"{W - R + 10}\" y=\"{T + 10 + (p * 18)}\" width=\"12\" height=\"3\" fill=\"{color}\"/><text x=\"{W - R + 28}\" y=\"{T + 15 + (p * 18)}\">{E(name)}</text>");
        }

        return sb.Append("</svg>").ToString();
    }

    private static string ReusePlot(TraceAnalysis a)
    {
        const int W = 900, H = 300, L = 60, B = 60, T = 20;
        var inv = CultureInfo.InvariantCulture;
        var counts = a.Reuse.BucketCounts;
        long max = Math.Max(1, counts.Max());
        double bw = (W - L - 20) / (double)Math.Max(1, counts.Length);
        var sb = new StringBuilder();
        sb.Append(inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-size=\"11\">");
        for (int k = 0; k < counts.Length; k++)
        {
            double hgt = (H - T - B) * counts[k] / (double)max;
            double x = L + (k * bw);
            sb.Append(inv, $"<rect x=\"{x + 1:F1}\" y=\"{H - B - hgt:F1}\" width=\"{bw - 2:F1}\" height=\"{hgt:F1}\" fill=\"#1f77b4\"><title>{counts[k]:N0} reuses</title></rect>");
            sb.Append(inv, $"<text x=\"{x + (bw / 2):F1}\" y=\"{H - B + 14}\" text-anchor=\"middle\">{Short(Simulation.ReuseProfile.BucketLow(k))}</text>");
        }

        sb.Append(inv, $"<text x=\"{W / 2}\" y=\"{H - 20}\" text-anchor=\"middle\">reuse distance (blocks, lower bound of each power-of-two bucket)</text><text x=\"10\" y=\"{T + 10}\">{max:N0}</text>");
        return sb.Append("</svg>").ToString();
    }

    private static string Short(long v) => v >= 1_000_000 ? $"{v / 1_000_000}M" : v >= 1000 ? $"{v / 1000}k" : v.ToString(CultureInfo.InvariantCulture);

    private static string E(string s) => WebUtility.HtmlEncode(s);
}
