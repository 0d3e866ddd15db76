using System.CommandLine;
using Ember.Serve;

// `ember serve` and `ember admin` land here: the `ember` CLI execs this program with its arguments unchanged.
var root = new RootCommand("Ember's server side: the cloud (serve) and operator actions on its data directory (admin).")
{
    ServeCommand.Create(),
    AdminCommand.Create(),
};
return await root.Parse(args).InvokeAsync();
