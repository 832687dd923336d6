package tencent

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"

	"tempid/internal/face"
)

// FaceConfig configures the face providers.
type FaceConfig struct {
	// Threshold is the lowest similarity (0–100) that passes; default
	// DefaultThreshold, Tencent's one-in-a-thousand false-accept point.
	Threshold float64
	// CaptureAction is the action that compares a picture with the
	// registry photo; default DefaultCaptureAction (ImageRecognition).
	CaptureAction string
	// RuleID is the hosted flow's rule, made in the FaceID console.
	RuleID string
}

func (c FaceConfig) threshold() float64 {
	if c.Threshold <= 0 {
		return DefaultThreshold
	}
	return c.Threshold
}

// Capture is the capture mode: the app takes the picture, tempid sends it
// once to the vendor, which compares it with the registry photo for the
// subject's name and ID number. The picture is held in memory only.
type Capture struct {
	Client *Client
	Config FaceConfig
}

var _ face.Provider = (*Capture)(nil)

// Name is "tencent".
func (*Capture) Name() string { return ProviderName }

// Development is false.
func (*Capture) Development() bool { return false }

// captureReasons maps the vendor's refusals of a picture to reasons the app
// explains. A refusal not listed is ReasonRefused.
var captureReasons = map[string]string{
	"FailedOperation.CompareLowSimilarity":   face.ReasonFaceMismatch,
	"FailedOperation.CompareFail":            face.ReasonFaceMismatch,
	"FailedOperation.LifePhotoDetectFake":    face.ReasonLivenessFailed,
	"FailedOperation.LifePhotoDetectNoFaces": face.ReasonNoFace,
	"FailedOperation.LifePhotoDetectFaces":   face.ReasonMultipleFaces,
	"FailedOperation.ImageDecodeFailed":      face.ReasonUnreadableImage,
	"FailedOperation.EmptyImageError":        face.ReasonUnreadableImage,
	"FailedOperation.ImageSizeTooLarge":      face.ReasonImageTooLarge,
	"FailedOperation.LifePhotoSizeError":     face.ReasonPoorQuality,
	"FailedOperation.LifePhotoPoorQuality":   face.ReasonPoorQuality,
	"FailedOperation.ImageBlur":              face.ReasonPoorQuality,
	"FailedOperation.IdPhotoNoExist":         face.ReasonNoRegistryPhoto,
	"FailedOperation.IdPhotoPoorQuality":     face.ReasonNoRegistryPhoto,
	"FailedOperation.IdNameMisMatch":         face.ReasonIdentityNotConfirmed,
	"FailedOperation.IdNoExistSystem":        face.ReasonIdentityNotConfirmed,
	"FailedOperation.IdFormatError":          face.ReasonIdentityNotConfirmed,
}

// refusal is the Result for a vendor's refusal code.
func refusal(code, requestID string) face.Result {
	reason, ok := captureReasons[code]
	if !ok {
		reason = face.ReasonRefused
	}
	return face.Result{Reason: reason, Reference: requestID}
}

// Check compares the capture with the registry photo of the subject. The
// call is not retried: each is a charged comparison of biometric data.
func (p *Capture) Check(ctx context.Context, subject face.Subject, c face.Capture) (face.Result, error) {
	if subject.Name == "" || subject.IDNumber == "" {
		return face.Result{}, errors.New("tencent: the face check has no sealed subject to compare with")
	}
	action := p.Config.CaptureAction
	if action == "" {
		action = DefaultCaptureAction
	}
	img := base64.StdEncoding.EncodeToString(c.Data)
	params := map[string]any{"IdCard": subject.IDNumber, "Name": subject.Name, "ImageBase64": img}
	var out struct {
		Sim       *float64
		Result    string
		RequestId string
	}
	var res face.Result
	err := p.Client.call(ctx, action, false, params, &out, func() error {
		switch {
		case out.Result == "Success" && out.Sim != nil:
			res = face.Result{Score: *out.Sim, Reference: out.RequestId}
			if res.Passed = *out.Sim >= p.Config.threshold(); !res.Passed {
				res.Reason = face.ReasonFaceMismatch
			}
			return nil
		case out.Result == "Success":
			return &Error{Action: action, Code: "BadAnswer", RequestID: out.RequestId, Fault: true}
		case isFault(out.Result):
			return &Error{Action: action, Code: out.Result, RequestID: out.RequestId, Fault: true}
		}
		res = refusal(out.Result, out.RequestId)
		if out.Sim != nil {
			res.Score = *out.Sim
		}
		return &Error{Action: action, Code: out.Result, RequestID: out.RequestId}
	})
	clear(params)
	var e *Error
	if errors.As(err, &e) && !e.Fault {
		if res.Reason == "" {
			// Refused as an API error rather than in Result.
			res = refusal(e.Code, e.RequestID)
		}
		return res, nil
	}
	return res, err
}

// Hosted is the hosted mode: the vendor's own page (its H5 flow) takes the
// passenger's picture and checks liveness; tempid opens the session with
// DetectAuth and asks GetDetectInfoEnhanced for the result, text only.
type Hosted struct {
	Client *Client
	Config FaceConfig
}

var _ face.Hosted = (*Hosted)(nil)

// Name is "tencent".
func (*Hosted) Name() string { return ProviderName }

// Development is false.
func (*Hosted) Development() bool { return false }

// Check is not how a hosted check completes.
func (*Hosted) Check(context.Context, face.Subject, face.Capture) (face.Result, error) {
	return face.Result{}, errors.New("tencent: hosted mode takes no capture")
}

// Begin opens a DetectAuth session for the subject under the configured
// rule, returning to returnURL. It is never retried: each call opens a
// new session.
func (p *Hosted) Begin(ctx context.Context, subject face.Subject, returnURL string) (face.Session, error) {
	if subject.Name == "" || subject.IDNumber == "" {
		return face.Session{}, errors.New("tencent: no subject to open a session for")
	}
	var out struct {
		Url       string
		BizToken  string
		RequestId string
	}
	err := p.Client.call(ctx, "DetectAuth", false, map[string]any{
		"RuleId": p.Config.RuleID, "IdCard": subject.IDNumber, "Name": subject.Name, "RedirectUrl": returnURL,
	}, &out, func() error {
		if out.Url == "" || out.BizToken == "" {
			return &Error{Action: "DetectAuth", Code: "BadAnswer", RequestID: out.RequestId, Fault: true}
		}
		return nil
	})
	if err != nil {
		return face.Session{}, err
	}
	return face.Session{URL: out.Url, Token: out.BizToken}, nil
}

// detectText is the part of GetDetectInfoEnhanced's Text tempid reads.
type detectText struct {
	ErrCode       *int64
	IdCard        *string
	Name          *string
	LiveStatus    *int64
	Comparestatus *int64
	Sim           *string
}

// Finish asks for the session's result, text only (InfoType 1: no best
// frame, no video, no ID card pictures come back). The check passes when
// the flow succeeded (ErrCode 0), liveness and comparison succeeded, the
// similarity reaches the threshold, and the session is the subject's.
func (p *Hosted) Finish(ctx context.Context, subject face.Subject, token string) (face.Result, error) {
	var out struct {
		Text      *detectText
		RequestId string
	}
	err := p.Client.call(ctx, "GetDetectInfoEnhanced", true, map[string]any{
		"BizToken": token, "RuleId": p.Config.RuleID, "InfoType": "1",
	}, &out, nil)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && !e.Fault {
			return refusal(e.Code, e.RequestID), nil
		}
		return face.Result{}, err
	}
	t := out.Text
	if t == nil || t.ErrCode == nil {
		return face.Result{}, face.ErrNotFinished
	}
	if (t.IdCard != nil && *t.IdCard != subject.IDNumber) || (t.Name != nil && *t.Name != subject.Name) {
		// Not this subject's session: an answer that cannot be used.
		return face.Result{}, &Error{Action: "GetDetectInfoEnhanced", Code: "SubjectMismatch", RequestID: out.RequestId, Fault: true}
	}
	res := face.Result{Reference: out.RequestId}
	if t.Sim != nil {
		if sim, err := strconv.ParseFloat(*t.Sim, 64); err == nil && sim >= 0 && sim <= 100 {
			res.Score = sim
		}
	}
	switch {
	case t.LiveStatus != nil && *t.LiveStatus != 0:
		res.Reason = face.ReasonLivenessFailed
	case t.Comparestatus != nil && *t.Comparestatus != 0:
		res.Reason = face.ReasonFaceMismatch
	case *t.ErrCode != 0:
		res.Reason = face.ReasonRefused
	case res.Score < p.Config.threshold():
		res.Reason = face.ReasonFaceMismatch
	default:
		res.Passed = true
	}
	return res, nil
}
