using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/nbd/Ember.Nbd.Benchmarks -- --filter '*' [--job short]
BenchmarkSwitcher.FromAssembly(typeof(Ember.Nbd.Benchmarks.ProtocolBenchmarks).Assembly).Run(args);
