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

import (
	"context"
	"errors"
)

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
	// ReasonPoorQuality means the picture is blurred, too dark or too small to compare.
	ReasonPoorQuality = "poor_quality"
	// ReasonFaceMismatch means the face does not match the registry photo of the subject
	// closely enough.
	ReasonFaceMismatch = "face_mismatch"
	// ReasonLivenessFailed means the vendor's liveness check found no live person.
	ReasonLivenessFailed = "liveness_failed"
	// ReasonNoRegistryPhoto means the registry holds no usable photo of the subject, so no
	// face can be compared: the person needs the station's manual window.
	ReasonNoRegistryPhoto = "no_registry_photo"
	// ReasonIdentityNotConfirmed means the vendor's registry does not confirm the name and
	// ID number the check was started for.
	ReasonIdentityNotConfirmed = "identity_not_confirmed"
	// ReasonRefused is a vendor's refusal that none of the other reasons describes.
	ReasonRefused = "provider_refused"
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
//
// Name and IDNumber are the subject in full, for a vendor that looks up the registry photo
// by them; they are personal data and must never be logged.
type Subject struct {
	// Name is the subject's full name.
	Name string
	// IDNumber is the subject's full ID number.
	IDNumber string
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

// Hosted is a provider whose capture and liveness check run on the vendor's own page:
// Begin opens a session there and says where to send the passenger; when the vendor sends
// the passenger back, Finish asks for the session's result. Check is not used.
type Hosted interface {
	Provider
	// Begin opens a session for subject; returnURL is where the vendor sends the passenger
	// back. Begin changes the vendor's state, so it is never retried.
	Begin(ctx context.Context, subject Subject, returnURL string) (Session, error)
	// Finish returns the result of a finished session, ErrNotFinished when the passenger
	// has not finished on the vendor's page yet, or another error when the provider
	// failed.
	Finish(ctx context.Context, subject Subject, token string) (Result, error)
}

// Session is a hosted check opened at the vendor.
type Session struct {
	// URL is the vendor's page for the passenger.
	URL string
	// Token identifies the session when asking for its result.
	Token string
}

// ErrNotFinished means a hosted session has no result yet.
var ErrNotFinished = errors.New("face: the check is not finished on the provider's page")
