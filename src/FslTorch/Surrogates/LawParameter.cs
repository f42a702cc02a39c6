namespace FslTorch.Surrogates;

/// <summary>One parameter of a <see cref="LossCurveLaw"/>: its symbol, meaning, and how to fit it.</summary>
/// <param name="Name">The paper's symbol, e.g. "L0" or "c4".</param>
/// <param name="Description">What the parameter means.</param>
/// <param name="Scale">Log for positive parameters, linear otherwise.</param>
public sealed record LawParameter(string Name, string Description, ParameterScale Scale = ParameterScale.Log);
