using System.CommandLine;
using FslTorch.Cli.Commands;

var root = new RootCommand("fsl: loss-curve forecasts and learning-rate schedule decisions for logged training runs (FslTorch).");
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(FitCommand.Create());
root.Subcommands.Add(PredictCommand.Create());
root.Subcommands.Add(DecayCommand.Create());
root.Subcommands.Add(PlotCommand.Create());
root.Subcommands.Add(WatchCommand.Create());
root.Subcommands.Add(TheoryCommand.Create());
root.Subcommands.Add(ProxyCommand.Create());
return root.Parse(args).Invoke();
