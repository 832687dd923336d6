package cli

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"tempid/internal/face"
	"tempid/internal/metrics"
	"tempid/internal/registry"
	"tempid/internal/tencent"
)

// providerFlags choose the identity registry and the face-check provider.
// Tencent Cloud's credentials are read by its SDK from the environment
// (TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY) and never from a flag.
type providerFlags struct {
	fs            *flag.FlagSet
	registry      *string
	registryFile  *string
	faceProvider  *string
	faceMode      *string
	publicURL     *string
	region        *string
	endpoint      *string
	ruleID        *string
	threshold     *float64
	captureAction *string
	timeout       *time.Duration
}

func (p *providerFlags) register(fs *flag.FlagSet) {
	p.fs = fs
	p.registry = fs.String("registry", "", "identity registry: file (with --registry-file) or tencent (Tencent Cloud FaceID IdCardVerification); the development registry runs only with --demo")
	p.registryFile = fs.String("registry-file", "", "CSV file of persons (name,id_number) to confirm identities against")
	p.faceProvider = fs.String("face-provider", "", "face-check provider: tencent (Tencent Cloud FaceID) or simulator (only with --demo, its default)")
	p.faceMode = fs.String("face-mode", "capture", "with --face-provider tencent: capture (the app takes the picture; ImageRecognition) or hosted (the vendor's page; DetectAuth)")
	p.publicURL = fs.String("public-url", "", "the address passengers open tempid at, e.g. https://tempid.example; hosted face checks return to its /face-return")
	p.region = fs.String("tencent-region", tencent.DefaultRegion, "Tencent Cloud region of FaceID")
	p.endpoint = fs.String("tencent-endpoint", "", "FaceID API host[:port] instead of Tencent Cloud's (a private endpoint or a test double)")
	p.ruleID = fs.String("tencent-rule-id", "", "FaceID rule id (RuleId) made in the console, for --face-mode hosted")
	p.threshold = fs.Float64("tencent-threshold", tencent.DefaultThreshold, "lowest similarity (0-100) that passes a face check; 70 is Tencent's 1-in-1000 false-accept point")
	p.captureAction = fs.String("tencent-capture-action", tencent.DefaultCaptureAction, "FaceID action comparing a capture with the registry photo (ImageRecognition, or ImageRecognitionV2)")
	p.timeout = fs.Duration("tencent-timeout", tencent.DefaultTimeout, "timeout of one FaceID request")
}

// providers is what serve runs with.
type providers struct {
	registry  registry.Registry
	face      face.Provider
	returnURL string
	health    func() map[string]error
}

// choose builds the providers the flags name, or says everything that is
// missing from a half configuration.
func (p *providerFlags) choose(demo bool, m *metrics.Metrics) (providers, error) {
	var out providers
	given := map[string]bool{}
	p.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	useTencent := *p.registry == "tencent" || *p.faceProvider == "tencent"
	hosted := *p.faceProvider == "tencent" && *p.faceMode == "hosted"

	var problems, missing []string
	switch *p.registry {
	case "", "file", "tencent":
	default:
		problems = append(problems, fmt.Sprintf("--registry %q: file or tencent", *p.registry))
	}
	switch *p.faceProvider {
	case "", "simulator", "tencent":
	default:
		problems = append(problems, fmt.Sprintf("--face-provider %q: tencent or simulator", *p.faceProvider))
	}
	switch *p.faceMode {
	case "capture", "hosted":
	default:
		problems = append(problems, fmt.Sprintf("--face-mode %q: capture or hosted", *p.faceMode))
	}
	if given["face-mode"] && *p.faceProvider != "tencent" {
		problems = append(problems, "--face-mode is for --face-provider tencent")
	}
	if *p.registry == "file" && *p.registryFile == "" {
		missing = append(missing, "--registry-file")
	}
	if *p.registry == "tencent" && *p.registryFile != "" {
		problems = append(problems, "--registry-file and --registry tencent exclude each other")
	}
	for _, name := range []string{"tencent-region", "tencent-endpoint", "tencent-threshold", "tencent-capture-action", "tencent-timeout"} {
		if given[name] && !useTencent {
			problems = append(problems, "--"+name+" is for --registry tencent or --face-provider tencent")
		}
	}
	if given["tencent-rule-id"] && !hosted {
		problems = append(problems, "--tencent-rule-id is for --face-provider tencent --face-mode hosted")
	}
	if *p.threshold <= 0 || *p.threshold > 100 {
		problems = append(problems, "--tencent-threshold: above 0, at most 100")
	}
	if hosted {
		if *p.ruleID == "" {
			missing = append(missing, "--tencent-rule-id")
		}
		if *p.publicURL == "" {
			missing = append(missing, "--public-url")
		} else if u, err := url.Parse(*p.publicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			problems = append(problems, "--public-url: an absolute https:// address")
		}
	}
	if useTencent {
		id, key := os.Getenv("TENCENTCLOUD_SECRET_ID"), os.Getenv("TENCENTCLOUD_SECRET_KEY")
		if id == "" {
			missing = append(missing, "TENCENTCLOUD_SECRET_ID in the environment")
		}
		if key == "" {
			missing = append(missing, "TENCENTCLOUD_SECRET_KEY in the environment")
		}
	}
	if len(missing) > 0 {
		problems = append(problems, "missing "+strings.Join(missing, ", "))
	}
	if len(problems) > 0 {
		return out, fmt.Errorf("incomplete provider configuration: %s", strings.Join(problems, "; "))
	}

	var client *tencent.Client
	if useTencent {
		c, err := tencent.New(tencent.Config{Region: *p.region, Endpoint: *p.endpoint, Timeout: *p.timeout, Metrics: m})
		if err != nil {
			return out, err
		}
		client = c
		out.health = func() map[string]error { return map[string]error{tencent.ProviderName: client.Health()} }
	}

	switch {
	case *p.registry == "tencent":
		out.registry = tencent.Registry{Client: client}
	case *p.registryFile != "":
		f, err := os.Open(*p.registryFile)
		if err != nil {
			return out, err
		}
		defer f.Close()
		r, err := registry.ParseFile(f, time.Now())
		if err != nil {
			return out, err
		}
		// Photo file names in the list are relative to the list.
		r.Dir = filepath.Dir(*p.registryFile)
		out.registry = r
	case demo:
		out.registry = registry.Development{}
	default:
		return out, errors.New("no identity registry: give --registry tencent or --registry-file (the development registry runs only with --demo)")
	}

	cfg := tencent.FaceConfig{Threshold: *p.threshold, CaptureAction: *p.captureAction, RuleID: *p.ruleID}
	switch {
	case *p.faceProvider == "tencent" && hosted:
		out.face = &tencent.Hosted{Client: client, Config: cfg}
		out.returnURL = strings.TrimSuffix(*p.publicURL, "/") + "/face-return"
	case *p.faceProvider == "tencent":
		out.face = &tencent.Capture{Client: client, Config: cfg}
	case demo:
		out.face = face.NewSimulator()
	default:
		return out, errors.New("no face-check provider: give --face-provider tencent (the simulator runs only with --demo)")
	}
	return out, nil
}
