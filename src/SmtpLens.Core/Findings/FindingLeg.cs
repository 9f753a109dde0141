namespace SmtpLens.Findings;

/// <summary>Which connection a finding is about: the sending MTA's, or the next hop's.</summary>
internal enum FindingLeg
{
    /// <summary>The sending MTA and its leg to SmtpLens.</summary>
    Client,

    /// <summary>The receiving MTA (or whatever answers for it) and SmtpLens's leg to it.</summary>
    Upstream,
}
