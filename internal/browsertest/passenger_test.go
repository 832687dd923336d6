package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/png" // screenshots are PNG
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"tempid/internal/credential"
	"tempid/internal/idnumber"
)

// passengerTab opens the passenger app's phone-sized tab.
func passengerTab(t *testing.T) *tab {
	t.Helper()
	srv := sharedServer(t)
	return newTab(t, sharedBrowser(t), srv, phone)
}

// signUpAndApply walks a new passenger through the app as a person would:
// sign up, open the temporary certificate entry, let the app locate the
// city, consent to the face check, take the picture with the (fake)
// camera, and arrive at the certificate screen showing a code. With shots,
// each screen on the way is saved for the README.
func signUpAndApply(t *testing.T, tb *tab, p person, shots bool) {
	t.Helper()
	shot := func(name string) {
		if shots {
			tb.screenshot(name)
		}
	}
	tb.open("/")
	tb.waitScreen("login")
	tb.waitFor("the login form", `!!document.getElementById('login-submit')`)
	shot("passenger-1-login")

	tb.click("to-signup")
	tb.waitScreen("signup")
	tb.fill("signup-username", p.username)
	tb.fill("signup-password", p.password)
	tb.fill("signup-name", p.name)
	tb.fill("signup-id-number", p.idNumber)
	tb.click("signup-submit")
	tb.waitScreen("home")

	tb.click("entry-tempid")
	tb.waitScreen("apply")
	// The form is pre-filled from the account's real-name identity (R1);
	// type only what is missing.
	if evalJS[string](tb, `document.getElementById('apply-name').value`) == "" {
		tb.fill("apply-name", p.name)
	}
	if evalJS[string](tb, `document.getElementById('apply-id-number').value`) == "" {
		tb.fill("apply-id-number", p.idNumber)
	}
	if got := evalJS[string](tb, `document.getElementById('apply-id-number').value`); got != p.idNumber {
		t.Fatalf("apply form ID number = %q, want %q", got, p.idNumber)
	}
	// The city comes from the overridden position: Guangzhou South station.
	tb.waitFor("the city located from the position", fmt.Sprintf(`document.getElementById('apply-city')?.dataset.code === %q`, guangzhouCode))
	shot("passenger-2-apply")

	tb.click("apply-submit")
	tb.waitScreen("consent")
	shot("passenger-3-consent")
	tb.click("consent-check")
	tb.waitFor("the agree button enabled", `!document.getElementById('consent-agree').disabled`)
	tb.click("consent-agree")

	faceCheck(t, tb, shots)
}

// faceCheck takes the picture on the face screen once the check is ready
// and the camera plays, and waits for the certificate screen's code.
func faceCheck(t *testing.T, tb *tab, shots bool) {
	t.Helper()
	tb.waitScreen("face")
	tb.waitFor("the face check ready with the camera playing",
		`document.getElementById('face-screen')?.dataset.phase === 'ready' && !!document.getElementById('face-capture') && document.getElementById('face-video').videoWidth > 0`)
	if shots {
		tb.screenshot("passenger-4-face")
	}
	tb.click("face-capture")
	tb.waitScreen("cert")
	tb.waitFor("a code on the certificate screen", `document.getElementById('cert-screen')?.dataset.state === 'code' && !!document.getElementById('cert-code')?.dataset.code`)
}

// shownCode returns the code the certificate screen shows and its step.
func shownCode(t *testing.T, tb *tab) (string, int64) {
	t.Helper()
	code := tb.attr("cert-code", "data-code")
	step, err := strconv.ParseInt(tb.attr("cert-code", "data-step"), 10, 64)
	if code == "" || err != nil {
		t.Fatalf("certificate screen shows code %q step %q", code, tb.attr("cert-code", "data-step"))
	}
	return code, step
}

// decodeQR reads the QR symbol in a PNG screenshot. It tries the local
// (hybrid) binarizer, then the global one: for a dense symbol on a page
// with text, either alone sometimes misses a finder pattern that the
// other finds, and a test must not fail on the decoder's luck.
func decodeQR(shot []byte) (string, error) {
	img, _, err := image.Decode(bytes.NewReader(shot))
	if err != nil {
		return "", err
	}
	src := gozxing.NewLuminanceSourceFromImage(img)
	var firstErr error
	for _, binarizer := range []gozxing.Binarizer{gozxing.NewHybridBinarizer(src), gozxing.NewGlobalHistgramBinarizer(src)} {
		bmp, err := gozxing.NewBinaryBitmap(binarizer)
		if err != nil {
			return "", err
		}
		res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
		if err == nil {
			return res.GetText(), nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return "", firstErr
}

func TestAPassengerSignsUpAppliesAndShowsAQRCodeThatStaffVerify(t *testing.T) {
	tb := passengerTab(t)
	p := newPerson()
	signUpAndApply(t, tb, p, true)
	tb.waitFor("the certificate's holder", `!!document.getElementById('cert-holder-name')?.textContent`)
	tb.screenshot("passenger-5-certificate")

	if got, want := evalJS[string](tb, `document.getElementById('cert-holder-id').textContent.trim()`), idnumber.Number(p.idNumber).Masked(); got != want {
		t.Errorf("holder ID shown = %q, want the masked %q", got, want)
	}

	// The code is drawn on a canvas; read it back as a scanner would, from
	// the pixels. The step may turn between reading data-code and taking the
	// picture, so try again when they disagree.
	var code, scanned string
	for attempt := 0; ; attempt++ {
		code, _ = shownCode(t, tb)
		ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
		shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.ID("cert-qr")))
		cancel()
		if err != nil {
			t.Fatalf("screenshot of the QR code: %v", err)
		}
		scanned, err = decodeQR(shot)
		if err != nil {
			saveScreenshot("failed-qr", shot)
			t.Fatalf("decoding the QR code from the screen: %v", err)
		}
		if again, _ := shownCode(t, tb); scanned == code && again == code || attempt == 2 {
			break
		}
	}
	if scanned != code {
		t.Fatalf("the QR code reads %q, but the page's code is %q", scanned, code)
	}

	v := verifyOnline(t, tb.srv, scanned, "id_check")
	if v.Verdict != "valid" || v.Replay {
		t.Fatalf("verifying the scanned code: verdict %q reason %q replay %t, want valid and no replay", v.Verdict, v.Reason, v.Replay)
	}
	if got, want := v.Holder.IDNumberMasked, idnumber.Number(p.idNumber).Masked(); got != want {
		t.Errorf("verified holder ID = %q, want %q", got, want)
	}
	if got, want := v.Holder.NameMasked, idnumber.MaskName(p.name); got != want {
		t.Errorf("verified holder name = %q, want %q", got, want)
	}
	// A second scan of the same code for the same operation is a replay.
	if v := verifyOnline(t, tb.srv, scanned, "id_check"); !v.Replay {
		t.Errorf("scanning the same code twice: replay = false, want true (verdict %q reason %q)", v.Verdict, v.Reason)
	}
}

// setOffline cuts the tab off the network (service worker included), or
// restores it.
func (tb *tab) setOffline(off bool) {
	tb.t.Helper()
	tb.do(fmt.Sprintf("set offline=%t", off), chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			EmulateOfflineServiceWorker: new(off),
			MatchedNetworkConditions:    []*network.Conditions{{Offline: off, DownloadThroughput: -1, UploadThroughput: -1}},
		}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: off, DownloadThroughput: -1, UploadThroughput: -1})
		return err
	}))
}

// waitNextCode advances the page clock to offset and waits for a code of a
// later step than after.
func waitNextCode(t *testing.T, tb *tab, offset time.Duration, after int64) (string, int64) {
	t.Helper()
	tb.setClock(offset)
	tb.waitFor("a code of a later step", fmt.Sprintf(`document.getElementById('cert-screen')?.dataset.state === 'code' && Number(document.getElementById('cert-code')?.dataset.step) > %d`, after))
	return shownCode(t, tb)
}

func TestTheCodeChangesEveryMinuteAlsoWithTheNetworkCut(t *testing.T) {
	tb := passengerTab(t)
	signUpAndApply(t, tb, newPerson(), false)
	code1, step1 := shownCode(t, tb)
	// A gate's trust bundle, fetched while online.
	trust := trustBundle(t, tb.srv)

	code2, step2 := waitNextCode(t, tb, 61*time.Second, step1)
	if code2 == code1 {
		t.Fatal("the code did not change after the step")
	}
	if v := verifyOffline(trust, code2, time.Now().Add(61*time.Second)); !v.Valid {
		t.Fatalf("the next minute's code at the next minute: %s, want valid", v.Reason)
	}

	tb.setOffline(true)
	if evalJS[bool](tb, `fetch('/healthz', {cache: 'no-store'}).then(() => true, () => false)`) {
		t.Fatal("the page still reaches the server with the network emulated offline")
	}
	code3, _ := waitNextCode(t, tb, 121*time.Second, step2)
	if v := verifyOffline(trust, code3, time.Now().Add(121*time.Second)); !v.Valid {
		t.Fatalf("a code made offline, two minutes on: %s, want valid", v.Reason)
	}

	// Opening the app with no network: the service worker serves the shell,
	// the stored pass and device key draw the code (the reload also puts the
	// page clock back to the real time).
	tb.do("reload offline", chromedp.Reload())
	tb.waitScreen("cert")
	tb.waitFor("the offline banner", `!!document.querySelector('[data-testid=offline-banner]')`)
	tb.waitFor("a code drawn offline", `document.getElementById('cert-screen')?.dataset.state === 'code'`)
	code4, step4 := shownCode(t, tb)
	if step4 != int64(credential.StepAt(time.Now())) && step4 != int64(credential.StepAt(time.Now()))-1 {
		t.Fatalf("offline code step %d, want the current step %d", step4, credential.StepAt(time.Now()))
	}

	tb.setOffline(false)
	// Not verified before, so not a replay: the server judges it as fresh.
	if v := verifyOnline(t, tb.srv, code4, "entry"); v.Verdict != "valid" {
		t.Fatalf("a code made offline, verified online: verdict %q reason %q, want valid", v.Verdict, v.Reason)
	}
}

func TestAfterThirtyMinutesOrClearedStorageTheAppAsksForAFaceCheckAgain(t *testing.T) {
	tb := passengerTab(t)
	p := newPerson()
	signUpAndApply(t, tb, p, false)
	code1, _ := shownCode(t, tb)

	tb.setClock(31 * time.Minute)
	tb.waitFor("the certificate screen to ask for a face check", `document.getElementById('cert-screen')?.dataset.state === 'need_face'`)
	if got := tb.attr("cert-code", "data-code"); got != "" {
		t.Fatalf("after 31 minutes the screen still shows code %q", got)
	}
	tb.screenshot("passenger-6-face-again")
	tb.click("cert-face-again")
	tb.waitScreen("consent")
	// The server issues the new pass at its own (real) time; put the page
	// clock back, as a phone's clock agrees with the server's.
	tb.setClock(0)
	tb.click("consent-check")
	tb.waitFor("the agree button enabled", `!document.getElementById('consent-agree').disabled`)
	tb.click("consent-agree")
	faceCheck(t, tb, false)

	code2, _ := shownCode(t, tb)
	c1, err1 := credential.ParseCode(code1)
	c2, err2 := credential.ParseCode(code2)
	if err1 != nil || err2 != nil {
		t.Fatalf("parsing the codes: %v, %v", err1, err2)
	}
	if bytes.Equal(c1.Pass.Bytes, c2.Pass.Bytes) {
		t.Fatal("after the new face check the code carries the old pass")
	}
	if v := verifyOnline(t, tb.srv, code2, "ticket_check"); v.Verdict != "valid" {
		t.Fatalf("the code after the new face check: verdict %q reason %q, want valid", v.Verdict, v.Reason)
	}

	// Clearing the site's storage ends this device's authorisation (R4).
	tb.do("clear the site's storage", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, storage.ClearDataForOrigin, storage.ClearDataForOriginParams{Origin: tb.srv.URL, StorageTypes: "all"})
		return err
	}), chromedp.Reload())
	// "all" takes the cookies too, so the session is gone as well.
	tb.waitScreen("login")
	tb.fill("login-username", p.username)
	tb.fill("login-password", p.password)
	tb.click("login-submit")
	tb.waitScreen("home")
	tb.waitFor("the certificate in the history", `!!document.querySelector('[data-testid=history-view]')`)
	if evalJS[bool](tb, `!!document.getElementById('home-show')`) {
		t.Fatal("after clearing storage the home screen still offers to show the code without a face check")
	}
	tb.clickCSS(`[data-testid=history-view]`) // the active certificate's "view" button
	tb.waitScreen("consent")
}
