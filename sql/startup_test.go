package sql

import (
	"reflect"
	"testing"
)

func TestStartupOptions(t *testing.T) {
	got := startupOptions(`-c TimeZone=Asia/Kolkata -csearch_path=a,b --statement-timeout=5s -c application_name=my\ app -X`)
	want := [][2]string{{"timezone", "Asia/Kolkata"}, {"search_path", "a,b"}, {"statement_timeout", "5s"}, {"application_name", "my app"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("startupOptions = %q, want %q", got, want)
	}
	e := newTestSession(t).e
	s := e.NewSession(SessionOptions{Params: map[string]string{"options": "-c TimeZone=europe/berlin"}})
	if s.StartupError() != nil || s.settings["timezone"] != "Europe/Berlin" || s.Location().String() != "Europe/Berlin" {
		t.Fatalf("options TimeZone: err %v, setting %q, zone %v", s.StartupError(), s.settings["timezone"], s.Location())
	}
	s = e.NewSession(SessionOptions{Params: map[string]string{"TimeZone": "Nowhere/Land"}})
	if s.StartupError() == nil {
		t.Fatal("an invalid startup TimeZone was accepted")
	}
}
