using System.Diagnostics;
using System.Globalization;
using SmtpLens.Tests.Support;

namespace SmtpLens.Tests.Fuzz;

/// <summary>One parser under fuzz: valid seeds, tokens worth inserting, and a check that throws on a broken
/// invariant and otherwise returns a short outcome signature (new signatures grow the corpus).</summary>
internal sealed record FuzzTarget(string Name, IReadOnlyList<byte[]> Seeds, Func<byte[], string> Check)
{
    public IReadOnlyList<byte[]> Dictionary { get; init; } = [];

    public int MaxLength { get; init; } = 8192;

    /// <summary>Managed bytes one input may allocate, the check's own included: a parser that allocates by a
    /// length field it read rather than the bytes it has, or quadratically, fails here.</summary>
    public Func<int, long> AllocationBudget { get; init; } = length => (4L << 20) + (512L * length);
}

internal sealed record FuzzReport(string Target, int Seed, long Iterations, int CorpusSize, int Signatures, TimeSpan Elapsed)
{
    public override string ToString() =>
        $"{Target}: seed {Seed}, {Iterations} inputs in {Elapsed.TotalSeconds:F1} s ({Iterations / Math.Max(Elapsed.TotalSeconds, 0.001):F0}/s), corpus {CorpusSize}, {Signatures} distinct outcomes";
}

/// <summary>A bounded mutation loop with a fixed seed, so CI runs the same inputs every time.
/// <c>SMTPLENS_FUZZ_SECONDS</c> turns it into an open-ended campaign (bench/fuzz.sh) with a fresh seed
/// unless <c>SMTPLENS_FUZZ_SEED</c> gives one; <c>SMTPLENS_FUZZ_CRASH_DIR</c> keeps failing inputs as files.</summary>
internal static class FuzzLoop
{
    public const int CiIterations = 20_000;

    /// <summary>CI's cap per target, whichever of it and <see cref="CiIterations"/> comes first.</summary>
    public static readonly TimeSpan CiBudget = TimeSpan.FromSeconds(3);

    /// <summary>No single parse may take this long; an endless loop is caught by the watchdog instead.</summary>
    public static readonly TimeSpan SlowInput = TimeSpan.FromSeconds(5);

    public static async Task<FuzzReport> RunAsync(FuzzTarget target, int defaultSeed)
    {
        var campaignSeconds = Environment.GetEnvironmentVariable("SMTPLENS_FUZZ_SECONDS") is { Length: > 0 } s ? double.Parse(s, CultureInfo.InvariantCulture) : (double?)null;
        var seed = Environment.GetEnvironmentVariable("SMTPLENS_FUZZ_SEED") is { Length: > 0 } v
            ? int.Parse(v, CultureInfo.InvariantCulture)
            : campaignSeconds is null ? defaultSeed : Environment.TickCount & int.MaxValue;
        var budget = campaignSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : CiBudget;
        var iterations = campaignSeconds is null ? CiIterations : long.MaxValue;

        var state = new LoopState();
        var loop = Task.Factory.StartNew(() => Loop(target, seed, iterations, budget, state), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            // The watchdog: a parser stuck in a loop never returns, so the loop's own clock cannot see it.
            return await loop.WaitAsync(budget + TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            var stuck = state.Current ?? [];
            throw new InvalidOperationException(Describe(target, seed, state.Iteration, stuck, "hangs (no return within 60 s)"));
        }
    }

    private static FuzzReport Loop(FuzzTarget target, int seed, long iterations, TimeSpan budget, LoopState state)
    {
        var random = new Random(seed);
        var mutator = new ByteMutator(random, target.Dictionary, target.MaxLength);
        var corpus = new List<byte[]>(target.Seeds);
        var signatures = new HashSet<string>(StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();

        // Seeds first, unmutated: a check that rejects valid input is a broken check.
        foreach (var input in target.Seeds)
        {
            signatures.Add(RunOne(target, seed, -1, input, state));
        }

        long i = 0;
        for (; i < iterations && clock.Elapsed < budget; i++)
        {
            var parent = corpus[random.Next(corpus.Count)];
            var input = mutator.Mutate(parent, corpus[random.Next(corpus.Count)]);
            if (signatures.Add(RunOne(target, seed, i, input, state)) && corpus.Count < 512)
            {
                corpus.Add(input);
            }
        }

        return new FuzzReport(target.Name, seed, i, corpus.Count, signatures.Count, clock.Elapsed);
    }

    private static string RunOne(FuzzTarget target, int seed, long iteration, byte[] input, LoopState state)
    {
        state.Current = input;
        state.Iteration = iteration;
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var started = Stopwatch.GetTimestamp();
        string signature;
        try
        {
            signature = target.Check(input);
        }
        catch (Exception e)
        {
            throw Fail(target, seed, iteration, input, $"throws {e.GetType().Name}: {e.Message}", e);
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        if (elapsed > SlowInput)
        {
            throw Fail(target, seed, iteration, input, $"took {elapsed.TotalSeconds:F1} s", null);
        }

        if (allocated > target.AllocationBudget(input.Length))
        {
            throw Fail(target, seed, iteration, input, $"allocated {allocated} bytes for {input.Length} bytes of input", null);
        }

        return signature;
    }

    private static InvalidOperationException Fail(FuzzTarget target, int seed, long iteration, byte[] input, string what, Exception? inner)
    {
        if (Environment.GetEnvironmentVariable("SMTPLENS_FUZZ_CRASH_DIR") is { Length: > 0 } dir)
        {
            Directory.CreateDirectory(dir);
            File.WriteAllBytes(Path.Combine(dir, $"{target.Name}-seed{seed}-{iteration}.bin"), input);
        }

        return new InvalidOperationException(Describe(target, seed, iteration, input, what), inner);
    }

    private static string Describe(FuzzTarget target, int seed, long iteration, byte[] input, string what) =>
        $"fuzz target {target.Name} {what}; replay: SMTPLENS_FUZZ_SEED={seed}, iteration {iteration} (-1: a seed input); input {Bytes.Literal(input)}";

    private sealed class LoopState
    {
        public volatile byte[]? Current;

        public long Iteration;
    }
}
