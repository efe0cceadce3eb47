using Microsoft.Extensions.AI;
using TierKv.LlamaSharp.Chat;

namespace TierKv.LlamaSharp.Tests;

/// <summary>The IChatClient: a long conversation's prefix is restored on the next request and after a restart.</summary>
public sealed class ChatClientTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    [Fact]
    public async Task A_follow_up_request_restores_the_conversation_and_a_restarted_client_finds_it_on_the_ssd()
    {
        string data = Path.Combine(fixture.Directory, "chat-" + Guid.NewGuid().ToString("N"));
        string system = string.Join(' ', Enumerable.Repeat("the cache keeps every layer of the prompt in memory and on disk", 60));
        List<ChatMessage> conversation = [new(ChatRole.System, system), new(ChatRole.User, "Please explain the tier.")];
        var options = new TierKvChatOptions { DataDirectory = data, ContextSize = 4096, MaxOutputTokens = 8, Log = _ => { } };
        string first;
        using (var chat = TierKvChatClient.Create(fixture.ModelPath, options))
        {
            PinSlowPrefill(chat);
            Assert.NotNull(chat.Connector.ScratchSequence);
            var reply = await chat.GetResponseAsync(conversation);
            first = reply.Text;
            Assert.Equal(0, chat.LastRestore!.RestoredTokens);
            Assert.True(reply.Usage!.OutputTokenCount > 0);
            var again = await chat.GetResponseAsync(conversation);
            Assert.True(chat.LastRestore!.RestoredTokens >= 256);
            Assert.Equal(first, again.Text);
            Assert.True(chat.Connector.LastPhases!.ShareSeconds > 0, "restored through the scratch sequence");
            await chat.Connector.Store.PersistAsync();
        }

        using (var restarted = TierKvChatClient.Create(fixture.ModelPath, options))
        {
            PinSlowPrefill(restarted);
            await TierKv.Engine.Planning.TierCalibration.MeasureAsync(restarted.Connector.Store.Tiers[1], restarted.Connector.Layout!, restarted.Connector.Planner);
            var reply = await restarted.GetResponseAsync(conversation);
            Assert.True(restarted.LastRestore!.ServedTokens.GetValueOrDefault("ssd") >= 256);
            Assert.Equal(first, reply.Text);
        }
    }

    private static void PinSlowPrefill(TierKvChatClient chat)
    {
        // The tiny model recomputes faster than anything loads; a pinned slow prefill makes the planner load.
        chat.Connector.Planner.ObservePrefill(1000, 0, 1000);
        chat.Connector.Planner.LearnPrefillSpeed = false;
    }
}
