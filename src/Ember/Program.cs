using Ember.Commands;

// One command for users: `ember serve` runs the cloud (in ember-server, see ServerVerbs); the other verbs are its clients.
return ServerVerbs.Handles(args) ? ServerVerbs.Exec(args) : await EmberCli.RunAsync(args);
