package signing

import (
	"os"
	"regexp"
	"testing"
)

// TestEveryFailureDescribed: every reason sign.go records has its own code and a
// Vietnamese sentence, not the general fallback.
func TestEveryFailureDescribed(t *testing.T) {
	src, err := os.ReadFile("sign.go")
	if err != nil {
		t.Fatal(err)
	}
	reasons := regexp.MustCompile(`permanent\("([^"]+)"`).FindAllSubmatch(src, -1)
	if len(reasons) < 8 {
		t.Fatalf("found %d reasons in sign.go", len(reasons))
	}
	all := []string{reasonIncomplete, FailureUnavailable, FailureTimeout, FailureSADExpired, FailureAuth, FailureSuspended,
		FailureRevoked, FailureBadSignature, FailureNoCredential, FailureActivation, FailureProvider}
	for _, m := range reasons {
		all = append(all, string(m[1]))
	}
	for _, r := range all {
		f := DescribeFailure(r)
		if f.Code == "failed" || f.Code == "" || !regexp.MustCompile(`[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]`).MatchString(f.Vietnamese) {
			t.Errorf("reason %q: %+v", r, f)
		}
	}
	if f := DescribeFailure(""); f.Code != "failed" || f.Vietnamese == "" {
		t.Errorf("empty reason: %+v", f)
	}
}
