using Ember.Commands;

// One executable: `ember serve` runs the cloud; the other verbs are its clients.
return await EmberCli.RunAsync(args);
