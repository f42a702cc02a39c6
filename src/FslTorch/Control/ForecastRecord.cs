namespace FslTorch.Control;

/// <summary>One forecast a monitor made, as kept in its history (<see cref="TrainingMonitor.Forecasts"/>) and its checkpoint.</summary>
/// <param name="Step">The last step observed when it was made.</param>
/// <param name="FinalLoss">The forecast final loss (<see cref="Forecast.FinalLoss"/>).</param>
/// <param name="Lower">The band's lower edge.</param>
/// <param name="Upper">The band's upper edge.</param>
/// <param name="Calibrated">Whether it was calibrated (<see cref="Forecast.Calibrated"/>).</param>
/// <param name="HasDecayEvidence">Whether the run had evidence of its decay response then (<see cref="Forecast.HasDecayEvidence"/>).</param>
/// <param name="HorizonStep">The last step it reached without a decay it had not seen (<see cref="Forecast.HorizonStep"/>).</param>
/// <param name="HorizonLoss">Its predicted loss there (<see cref="Forecast.HorizonLoss"/>).</param>
public sealed record ForecastRecord(long Step, double FinalLoss, double Lower, double Upper, bool Calibrated, bool HasDecayEvidence, long HorizonStep, double HorizonLoss)
{
    /// <summary>The record of <paramref name="forecast"/>.</summary>
    public static ForecastRecord Of(Forecast forecast)
    {
        ArgumentNullException.ThrowIfNull(forecast);
        return new ForecastRecord(forecast.Step, forecast.FinalLoss, forecast.Lower, forecast.Upper, forecast.Calibrated,
            forecast.HasDecayEvidence, forecast.HorizonStep, forecast.HorizonLoss);
    }
}
