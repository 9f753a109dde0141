namespace SmtpLens.Net;

/// <summary>How a listener finds each session's next hop.</summary>
internal enum UpstreamRoute
{
    /// <summary>The configured --upstream.</summary>
    Static,

    /// <summary>Where a REDIRECT/DNAT-ed connection was headed (SO_ORIGINAL_DST).</summary>
    OriginalDestination,

    /// <summary>TPROXY: the accepted socket's own local address is the destination.</summary>
    Tproxy,
}

internal static class UpstreamRouteNames
{
    public static string Name(this UpstreamRoute route) => route switch
    {
        UpstreamRoute.OriginalDestination => "original-destination",
        UpstreamRoute.Tproxy => "tproxy",
        _ => "static",
    };

    public static bool TryParse(string? text, out UpstreamRoute route)
    {
        route = UpstreamRoute.Static;
        switch (text?.Trim().ToLowerInvariant())
        {
            case null or "" or "static":
                return true;
            case "original-destination" or "originaldestination" or "redirect":
                route = UpstreamRoute.OriginalDestination;
                return true;
            case "tproxy":
                route = UpstreamRoute.Tproxy;
                return true;
            default:
                return false;
        }
    }
}
