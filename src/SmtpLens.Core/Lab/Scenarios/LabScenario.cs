using Microsoft.Extensions.Logging;

namespace SmtpLens.Lab.Scenarios;

/// <summary>One incident from the seeds, reproducible on loopback with one command.</summary>
internal sealed record LabScenario(string Name, string Seeds, string Summary, Func<ScenarioRun, CancellationToken, Task> Body)
{
    /// <param name="checkRevocation"><c>lab --check-revocation</c>: every hop checks both chains for revocation.</param>
    /// <param name="connectors"><c>lab --connectors FILE</c>: every hop's senders are matched against these connectors.</param>
    public async Task<ScenarioResult> RunAsync(string outputDirectory, ILogger log, TimeProvider time, CancellationToken ct, bool checkRevocation = false, IReadOnlyList<Connectors.InboundConnector>? connectors = null)
    {
        await using var run = new ScenarioRun(outputDirectory, log, time);
        if (checkRevocation)
        {
            run.EnableRevocation();
        }

        run.Connectors = connectors is null ? null : new Connectors.ConnectorWatch(connectors);
        await Body(run, ct);
        return run.Result(this);
    }
}
