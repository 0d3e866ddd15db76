using System.CommandLine;
using System.Text.Json.Nodes;
using static Ember.Commands.Client.CommandHelpers;

namespace Ember.Commands.Client;

/// <summary>`ember token issue`.</summary>
public static class TokenCommands
{
    public static Command Create(ClientOptions g)
    {
        var issue = Cmd("issue", "Issue a token (reuses the cached one while it is valid).");
        g.SetAction(issue, async (run, ct) =>
        {
            var token = await run.Session.AuthenticateAsync(ct);
            run.Output.Show([
                new("expires", V(token.ExpiresAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss+0000", System.Globalization.CultureInfo.InvariantCulture))),
                new("id", V(token.Id)),
                new("project_id", V(token.ProjectId)),
                new("user_id", V(token.UserId)),
            ]);
            return 0;
        });
        return Cmd("token", "Identity tokens.", issue);
    }

}
