using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using SmtpLens.Net;
using SmtpLens.StateMachine;
using SmtpLens.Transcripts;

namespace SmtpLens.Relay;

/// <summary>The transparent-insertion part of a session: PROXY headers in and out, and refusing unroutable connections.</summary>
internal sealed partial class SmtpSession
{
    private string TransparentNote()
    {
        var notes = new List<string>();
        if (_origin.ProxyHeader is { CarriesAddresses: true })
        {
            notes.Add($"via {_origin.ClientSeen} (PROXY v{_origin.ProxyHeader.Version})");
        }

        if (_origin.OriginalDestination is { } destination)
        {
            notes.Add($"original destination {destination} ({_context.Listener.Route.Name()})");
        }

        return notes.Count == 0 ? string.Empty : "; " + string.Join("; ", notes);
    }

    private void RecordProxyHeader()
    {
        if (_origin.ProxyHeader is { } header)
        {
            _transcript.Record(Direction.Proxy, EventKinds.ProxyHeader, $"{header.Describe()} received from {_origin.ClientSeen} ({header.Length} bytes)", new Dictionary<string, object?>
            {
                ["direction"] = "received",
                ["version"] = header.Version,
                ["command"] = header.Command.ToString().ToUpperInvariant(),
                ["source"] = header.Source?.ToString(),
                ["destination"] = header.Destination?.ToString(),
                ["from"] = _origin.ClientSeen.ToString(),
                ["tlvTypes"] = header.TlvTypes.Select(t => (int)t).ToList(),
            });
        }
    }

    /// <summary>A missing or malformed PROXY header, or no destination on a transparent route, ends the session here.</summary>
    private (SessionEndReason, string)? RefuseOrigin()
    {
        if (_origin.ProxyHeaderError is { } bad)
        {
            // Never guess the client from a header we cannot read: close without relaying or answering.
            _transcript.Record(Direction.Proxy, EventKinds.ProxyHeader, $"PROXY header rejected from {_origin.ClientSeen}: {bad}; closing without relaying anything", new Dictionary<string, object?>
            {
                ["direction"] = "received",
                ["rejected"] = true,
                ["error"] = bad,
                ["expected"] = _context.Listener.AcceptProxy.ToString().ToLowerInvariant(),
                ["from"] = _origin.ClientSeen.ToString(),
            });
            return (SessionEndReason.ProxyHeaderRejected, bad);
        }

        if (_origin.RouteError is { } noRoute)
        {
            _transcript.Record(Direction.Proxy, EventKinds.UpstreamFailed, $"no upstream: {noRoute}", new Dictionary<string, object?>
            {
                ["route"] = _context.Listener.Route.Name(),
                ["originalDestination"] = _origin.OriginalDestination?.ToString(),
                ["error"] = noRoute,
            });
            _log.LogWarning("{SessionId} {Error}", SessionId, noRoute);
            return (SessionEndReason.NoOriginalDestination, noRoute);
        }

        return null;
    }

    /// <summary>--send-proxy: the header goes first, before the upstream's banner is even read.</summary>
    private async Task<(SessionEndReason, string)?> SendProxyHeaderAsync(Socket upstream, CancellationToken cancellationToken)
    {
        var version = _context.Listener.SendProxy;
        if (version == 0)
        {
            return null;
        }

        // The address the client dialled: the balancer's view if it told us, else the original or local destination.
        var destination = _origin.OriginalDestination
            ?? (_origin.ProxyHeader is { CarriesAddresses: true } header ? header.Destination! : _origin.Local);
        var bytes = ProxyHeaderWriter.Write(version, _origin.Client, destination);
        if (_capture is not null)
        {
            await _capture.RecordAsync(Capture.CaptureLeg.Upstream, inbound: false, bytes, CancellationToken.None);
        }

        try
        {
            await upstream.SendAsync(bytes, SocketFlags.None, cancellationToken);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            var why = $"sending the PROXY v{version} header upstream failed: {e.Message}";
            _transcript.Record(Direction.Proxy, EventKinds.Error, why);
            return (e is OperationCanceledException ? SessionEndReason.Shutdown : SessionEndReason.UpstreamError, why);
        }

        _transcript.Record(Direction.Proxy, EventKinds.ProxyHeader, $"sent PROXY v{version} upstream: client {_origin.Client} -> {destination} ({bytes.Length} bytes)", new Dictionary<string, object?>
        {
            ["direction"] = "sent",
            ["version"] = version,
            ["source"] = _origin.Client.ToString(),
            ["destination"] = destination.ToString(),
        });
        return null;
    }

}
