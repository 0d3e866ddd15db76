using System.CommandLine;
using Ember.Server;
using Ember.Server.Identity;

namespace Ember.Serve;

/// <summary>`ember admin`: operator actions on the data dir itself (no API, no token).</summary>
public static class AdminCommand
{
    public static Command Create()
    {
        var dataDir = new Option<string>("--data-dir") { Description = "The data directory of `ember serve` (default: $EMBER_DATA_DIR or ~/.local/share/ember)." };
        var database = new Option<string?>("--database") { Description = "The PostgreSQL URL `ember serve --database` uses (default: $EMBER_DATABASE, else SQLite in the data dir); its password from PGPASSWORD or a passfile." };
        var user = new Argument<string>("USER") { Description = "User name in the Default domain, e.g. admin or demo." };
        var fromStdin = new Option<bool>("--password-stdin") { Description = "Read the new password from the first line of stdin instead of generating one." };
        var reset = new Command("reset-password", "Set a new password, revoke the user's tokens and clear its lock-out; updates clouds.yaml for admin and demo.")
        {
            dataDir, database, user, fromStdin,
        };
        reset.SetAction(async (parse, cancellationToken) =>
        {
            DataDirectory.UsePrivateUmask();
            var dir = Path.GetFullPath(parse.GetValue(dataDir) ?? EmberOptions.DefaultDataDir());
            var name = parse.GetValue(user)!;
            string? password = null;
            if (parse.GetValue(fromStdin))
            {
                password = await Console.In.ReadLineAsync(cancellationToken);
                if (string.IsNullOrEmpty(password))
                {
                    await Console.Error.WriteLineAsync("ember admin reset-password: no password on stdin");
                    return 2;
                }
            }

            try
            {
                var url = parse.GetValue(database) ?? Environment.GetEnvironmentVariable("EMBER_DATABASE");
                var set = await IdentityAdmin.ResetPasswordAsync(dir, name, password, string.IsNullOrEmpty(url) ? null : url);
                Console.WriteLine(password is null ? $"New password for {name}: {set}" : $"Password of {name} changed.");
                Console.WriteLine("Tokens issued to the user before now are revoked.");
                return 0;
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
            {
                await Console.Error.WriteLineAsync($"ember admin reset-password: {ex.Message}");
                return 1;
            }
        });
        return new Command("admin", "Operator actions on the data directory of `ember serve`.") { reset };
    }
}
