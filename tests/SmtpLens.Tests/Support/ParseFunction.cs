using System.Buffers;
using SmtpLens.StateMachine;

namespace SmtpLens.Tests.Support;

/// <summary>The shape of <see cref="SmtpDialogue.ParseClient"/> and <see cref="SmtpDialogue.ParseServer"/>.</summary>
internal delegate DialogueResult ParseFunction(ref ReadOnlySequence<byte> buffer, bool isCompleted);
