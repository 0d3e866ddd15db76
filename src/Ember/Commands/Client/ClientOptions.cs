using System.CommandLine;
using Ember.Client;
using Ember.Client.Output;

namespace Ember.Commands.Client;

/// <summary>The global --os-* options of a client command tree and how an action gets its session from them.</summary>
public sealed class ClientOptions
{
    private readonly (string Key, Option<string?> Option)[] _auth;

    public ClientOptions(CliContext context, bool withOutputOptions)
    {
        Context = context;
        _auth =
        [
            ("auth_url", new Option<string?>("--os-auth-url") { Description = "Identity endpoint (env OS_AUTH_URL)." }),
            ("username", new Option<string?>("--os-username") { Description = "User name (env OS_USERNAME)." }),
            ("password", new Option<string?>("--os-password") { Description = "Password (env OS_PASSWORD)." }),
            ("project_name", new Option<string?>("--os-project-name", "--os-tenant-name") { Description = "Project name (env OS_PROJECT_NAME)." }),
            ("project_id", new Option<string?>("--os-project-id", "--os-tenant-id") { Description = "Project id (env OS_PROJECT_ID)." }),
            ("user_domain_name", new Option<string?>("--os-user-domain-name") { Description = "User's domain (env OS_USER_DOMAIN_NAME)." }),
            ("project_domain_name", new Option<string?>("--os-project-domain-name") { Description = "Project's domain (env OS_PROJECT_DOMAIN_NAME)." }),
            ("region_name", new Option<string?>("--os-region-name") { Description = "Region (env OS_REGION_NAME)." }),
            ("interface", new Option<string?>("--os-interface", "--os-endpoint-type") { Description = "Endpoint interface: public, internal or admin (env OS_INTERFACE)." }),
            ("token", new Option<string?>("--os-token") { Description = "Use this token instead of a password (env OS_TOKEN)." }),
        ];
        foreach (var (_, option) in _auth)
        {
            option.Recursive = true;
        }

        if (withOutputOptions)
        {
            Format = new Option<string>("--format", "-f")
            {
                Description = "Output format: table, json or value.",
                DefaultValueFactory = _ => "table",
                Recursive = true,
            };
            Format.AcceptOnlyFromAmong("table", "json", "value");
            Columns = new Option<string[]>("--column", "-c") { Description = "Show only this column (repeatable).", Recursive = true, AllowMultipleArgumentsPerToken = false };
        }
    }

    public CliContext Context { get; }

    public Option<string?> Cloud { get; } = new("--os-cloud") { Description = "Cloud name in clouds.yaml (env OS_CLOUD).", Recursive = true };

    public Option<bool> Debug { get; } = new("--debug") { Description = "Print the HTTP requests and replies on stderr.", Recursive = true };

    public Option<string>? Format { get; }

    public Option<string[]>? Columns { get; }

    public IEnumerable<Option> All => [Cloud, Debug, .. _auth.Select(a => a.Option), .. Format is null ? Array.Empty<Option>() : [Format, Columns!]];

    public void AddTo(Command root)
    {
        foreach (var option in All)
        {
            root.Options.Add(option);
        }
    }

    /// <summary>Sets an action that gets a session, runs <paramref name="body"/> and turns failures into a message and exit code 1.</summary>
    public void SetAction(Command command, Func<ClientRun, CancellationToken, Task<int>> body)
    {
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                var flags = _auth.ToDictionary(a => a.Key, a => parse.GetValue(a.Option));
                var credentials = CloudConfig.Resolve(Context, parse.GetValue(Cloud), flags);
                using var session = new OpenStackSession(Context, credentials, parse.GetValue(Debug));
                var output = new OutputFormatter(Context.Out, Format is null ? "table" : parse.GetValue(Format) ?? "table", Columns is null ? [] : parse.GetValue(Columns) ?? []);
                return await body(new ClientRun(parse, new CloudApi(session, Context), Context, output), ct);
            }
            catch (CliException e)
            {
                Context.Err.WriteLine(e is ApiException ? "ERROR: " + e.Message : e.Message);
                return e.ExitCode;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                Context.Err.WriteLine("Interrupted.");
                return 130;
            }
        });
    }
}

/// <summary>What one client action works with.</summary>
public sealed record ClientRun(ParseResult Parse, CloudApi Api, CliContext Context, OutputFormatter Output)
{
    public OpenStackSession Session => Api.Session;

    public T Get<T>(Option<T> option) => Parse.GetValue(option)!;

    public T Get<T>(Argument<T> argument) => Parse.GetValue(argument)!;
}
