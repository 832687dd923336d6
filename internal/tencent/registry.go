package tencent

import (
	"context"

	"tempid/internal/idnumber"
	"tempid/internal/problem"
	"tempid/internal/registry"
)

// Registry confirms identities with IdCardVerification (the two-element
// check of a name and an ID number against the Ministry of Public
// Security's records).
type Registry struct {
	Client *Client
}

var _ registry.Registry = Registry{}

// Name is "tencent".
func (Registry) Name() string { return ProviderName }

// Development is false.
func (Registry) Development() bool { return false }

// Confirm maps IdCardVerification's Result: "0" confirms; "-1" (name and
// number differ) and "-5" (no such number on record) are refused alike as
// identity_mismatch, so the answer does not tell which numbers exist; "-2"
// is invalid_id_number; "-3" (a name the registry cannot take) is
// validation_failed; "-4" and "-6" (the registry is down or being
// upgraded) and anything else are the vendor's fault: unavailable.
func (r Registry) Confirm(ctx context.Context, name string, id idnumber.Number) error {
	var out struct {
		Result    string
		RequestId string
	}
	var refusal error
	err := r.Client.call(ctx, "IdCardVerification", true, map[string]any{"IdCard": id.String(), "Name": name}, &out, func() error {
		switch out.Result {
		case "0":
			return nil
		case "-1", "-5":
			refusal = problem.New(problem.IdentityMismatch, "the identity registry does not confirm this name and ID number")
		case "-2":
			refusal = problem.New(problem.InvalidIDNumber, "the identity registry does not accept this ID number")
		case "-3":
			refusal = problem.New(problem.ValidationFailed, "name: the identity registry does not accept this name")
		default:
			return &Error{Action: "IdCardVerification", Code: "Result" + out.Result, RequestID: out.RequestId, Fault: true}
		}
		return &Error{Action: "IdCardVerification", Code: "Result" + out.Result, RequestID: out.RequestId}
	})
	if refusal != nil {
		return refusal
	}
	if err != nil {
		if e, ok := err.(*Error); ok && !e.Fault && e.Code == "FailedOperation.IdNameMisMatch" {
			return problem.New(problem.IdentityMismatch, "the identity registry does not confirm this name and ID number")
		}
		if e, ok := err.(*Error); ok && !e.Fault && e.Code == "FailedOperation.IdFormatError" {
			return problem.New(problem.InvalidIDNumber, "the identity registry does not accept this ID number")
		}
	}
	return err
}
