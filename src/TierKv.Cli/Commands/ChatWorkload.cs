namespace TierKv.Cli.Commands;

/// <summary>Deterministic multi-turn chats: a shared system prompt, then per user growing user/assistant turns.</summary>
internal sealed class ChatWorkload(int users, int turns, int systemTokens, int seed)
{
    public readonly record struct ChatTurn(int User, int Turn, int[] Tokens);

    public IEnumerable<ChatTurn> Turns()
    {
        var rnd = new Random(seed);
        var system = Enumerable.Range(0, systemTokens).Select(_ => rnd.Next(1, 128000)).ToArray();
        var histories = Enumerable.Range(0, users).Select(_ => new List<int>(system)).ToArray();
        for (int t = 0; t < turns; t++)
        {
            for (int u = 0; u < users; u++)
            {
                var h = histories[u];
                int userMsg = rnd.Next(64, 512);
                for (int i = 0; i < userMsg; i++)
                {
                    h.Add(rnd.Next(1, 128000));
                }

                yield return new ChatTurn(u, t, [.. h]);

                int reply = rnd.Next(128, 768);
                for (int i = 0; i < reply; i++)
                {
                    h.Add(rnd.Next(1, 128000));
                }
            }
        }
    }
}
