using Microsoft.Extensions.Logging;

namespace SmtpLens.Lab.Scenarios;

/// <summary>One incident from the seeds, reproducible on loopback with one command.</summary>
internal sealed record LabScenario(string Name, string Seeds, string Summary, Func<ScenarioRun, CancellationToken, Task> Body)
{
    public async Task<ScenarioResult> RunAsync(string outputDirectory, ILogger log, TimeProvider time, CancellationToken ct)
    {
        await using var run = new ScenarioRun(outputDirectory, log, time);
        await Body(run, ct);
        return run.Result(this);
    }
}
