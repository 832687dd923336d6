// Package face defines how tempid asks a face-check provider whether a capture shows the
// person applying, and holds the built-in Simulator.
//
// A real provider (a vendor's service) compares the capture with the registry photo of the
// subject and checks liveness. The Simulator does neither: it only detects that exactly
// one face is present, with pigo, and exists for development and tests. The server refuses
// it outside demo/development mode (SPEC.md, "Face checks").
//
// Captures are biometric data (PIPL art. 28): providers here keep them in memory for the
// duration of Check and never write them anywhere.
package face

import "context"

// Reasons a face is not acceptable. They are stable codes that the caller stores and shows
// the passenger; messages are the caller's business.
const (
	// ReasonNoFace means no face was found in the capture.
	ReasonNoFace = "no_face"
	// ReasonMultipleFaces means more than one face was found, so the capture cannot say
	// who is applying.
	ReasonMultipleFaces = "multiple_faces"
	// ReasonUnreadableImage means the capture is not a JPEG or PNG image that decodes.
	ReasonUnreadableImage = "unreadable_image"
	// ReasonImageTooLarge means the capture exceeds the byte or pixel bounds, and was
	// refused before its pixels were decoded.
	ReasonImageTooLarge = "image_too_large"
)

// Capture is one picture taken by the passenger's camera for a face check.
type Capture struct {
	// ContentType is what the client declared; providers sniff the bytes rather than
	// trust it.
	ContentType string
	// Data is the encoded image.
	Data []byte
}

// Subject is who the capture should show. A real provider compares the capture with the
// registry photo it finds through these; the Simulator ignores them.
type Subject struct {
	// NameMasked is the subject's masked name, for the provider's own records.
	NameMasked string
	// IDIndex is the blind index of the subject's ID number, never the number itself.
	IDIndex []byte
}

// Result is a provider's answer about an acceptable or unacceptable capture.
type Result struct {
	// Passed is true when the capture is accepted as the subject.
	Passed bool
	// Score is the provider's confidence, on the provider's own scale; it is recorded,
	// not compared across providers.
	Score float64
	// Reason is empty when Passed, else one of the Reason codes (or a provider's own
	// stable code).
	Reason string
	// Reference is the provider's identifier for this check, for disputes with the vendor.
	Reference string
}

// Provider checks a capture against a subject. Check returns an error only when the
// provider itself failed (timeout, cancelled context, garbage answer), which the caller
// reports as unavailable; an unacceptable face is a Result with Passed false and a Reason.
type Provider interface {
	// Name identifies the provider in results, logs and audit entries.
	Name() string
	// Development reports whether the provider is only fit for development and tests,
	// so that the server can refuse it in production.
	Development() bool
	// Check decides whether c shows subject. It must be safe for concurrent use.
	Check(ctx context.Context, subject Subject, c Capture) (Result, error)
}
