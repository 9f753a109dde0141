using System.Collections;
using System.Globalization;

namespace SmtpLens.Transcripts;

/// <summary>Reads event data the same way whether it came from the live relay (ints, typed lists) or was
/// parsed back from a <c>.jsonl</c> transcript (longs, doubles, object lists), so readers need one code path.</summary>
internal static class EventFields
{
    public static object? Value(IReadOnlyDictionary<string, object?>? data, string key) =>
        data is not null && data.TryGetValue(key, out var v) ? v : null;

    public static string? Text(IReadOnlyDictionary<string, object?>? data, string key) => Value(data, key) switch
    {
        null => null,
        string s => s,
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        var other => other.ToString(),
    };

    public static long? Long(IReadOnlyDictionary<string, object?>? data, string key) => Value(data, key) switch
    {
        int i => i,
        long l => l,
        double d when d == Math.Floor(d) => (long)d,
        string s when long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) => p,
        _ => null,
    };

    public static int? Int(IReadOnlyDictionary<string, object?>? data, string key) => Long(data, key) is { } l and >= int.MinValue and <= int.MaxValue ? (int)l : null;

    public static bool? Bool(IReadOnlyDictionary<string, object?>? data, string key) => Value(data, key) switch
    {
        bool b => b,
        _ => null,
    };

    public static IReadOnlyDictionary<string, object?>? Map(IReadOnlyDictionary<string, object?>? data, string key) => AsMap(Value(data, key));

    public static IEnumerable<IReadOnlyDictionary<string, object?>> Maps(IReadOnlyDictionary<string, object?>? data, string key) =>
        Items(Value(data, key)).Select(AsMap).OfType<IReadOnlyDictionary<string, object?>>();

    public static IEnumerable<string> Texts(IReadOnlyDictionary<string, object?>? data, string key) =>
        Items(Value(data, key)).OfType<string>();

    /// <summary>Dictionaries of strings (EHLO keywords) are widened so every map reads alike.</summary>
    public static IReadOnlyDictionary<string, object?>? AsMap(object? value) => value switch
    {
        IReadOnlyDictionary<string, object?> map => map,
        IReadOnlyDictionary<string, string> strings => strings.ToDictionary(kv => kv.Key, kv => (object?)kv.Value),
        _ => null,
    };

    private static IEnumerable<object?> Items(object? value) => value switch
    {
        null or string => [],
        IEnumerable items when AsMap(value) is null => items.Cast<object?>(),
        _ => [],
    };
}
