package mailtext

import (
	"fmt"
	"time"

	"golang.org/x/text/language"
)

// wording is how one language writes durations and dates. Month names and
// plural rules are written out here rather than taken from CLDR: two
// languages need a few dozen words, not a locale database.
type wording struct {
	months [12]string
	// dateTime formats day, month name, year, hour, minute; nil means
	// ISO 8601 ("2026-11-27 15:04 UTC").
	dateTime func(day int, month string, year, hour, minute int) string
	// units holds singular and plural of second, minute, hour, day.
	units [4][2]string
	// and joins hours and minutes ("1 hour and 30 minutes").
	and string
	// singular reports whether n takes the singular.
	singular func(n int64) bool
	// days allows "3 days" for whole numbers of days from two on.
	days bool
}

const (
	unitSecond = iota
	unitMinute
	unitHour
	unitDay
)

var english = &wording{
	months: [12]string{"January", "February", "March", "April", "May", "June",
		"July", "August", "September", "October", "November", "December"},
	dateTime: func(day int, month string, year, hour, minute int) string {
		return fmt.Sprintf("%d %s %d at %02d:%02d UTC", day, month, year, hour, minute)
	},
	units: [4][2]string{
		{"second", "seconds"}, {"minute", "minutes"}, {"hour", "hours"}, {"day", "days"},
	},
	and:      "and",
	singular: func(n int64) bool { return n == 1 },
	days:     true,
}

var french = &wording{
	months: [12]string{"janvier", "février", "mars", "avril", "mai", "juin",
		"juillet", "août", "septembre", "octobre", "novembre", "décembre"},
	dateTime: func(day int, month string, year, hour, minute int) string {
		d := fmt.Sprint(day)
		if day == 1 {
			d = "1er" // « le 1er décembre », never « le 1 décembre »
		}
		return fmt.Sprintf("%s %s %d à %02d:%02d UTC", d, month, year, hour, minute)
	},
	units: [4][2]string{
		{"seconde", "secondes"}, {"minute", "minutes"}, {"heure", "heures"}, {"jour", "jours"},
	},
	and: "et",
	// French takes the singular for 0 and 1 (« 0 minute », « 1 heure »).
	singular: func(n int64) bool { return n < 2 },
	days:     true,
}

// neutral serves locales added by an override in a language this package
// has no words for: symbols and ISO 8601 dates read the same in most
// languages.
var neutral = &wording{
	units:    [4][2]string{{"s", "s"}, {"min", "min"}, {"h", "h"}, {"d", "d"}},
	singular: func(int64) bool { return true },
}

// wordingFor picks the wording for a locale by its base language, so "fr-CA"
// speaks French too.
func wordingFor(locale string) *wording {
	base, _ := language.Make(locale).Base()
	switch base.String() {
	case "en":
		return english
	case "fr":
		return french
	default:
		return neutral
	}
}

// funcsFor returns the template functions for a locale.
func funcsFor(locale string) map[string]any {
	w := wordingFor(locale)
	return map[string]any{
		"duration": w.duration,
		"datetime": w.datetime,
	}
}

// duration writes d in words: whole days from two days on ("3 days"),
// otherwise hours and minutes ("24 hours", "1 hour and 30 minutes",
// "30 minutes"), or seconds under a minute. It truncates to the minute, so
// it never promises more time than d.
func (w *wording) duration(d time.Duration) string {
	switch {
	case d <= 0:
		return w.count(0, unitMinute)
	case d < time.Minute:
		return w.count(int64(d/time.Second), unitSecond)
	case w.days && d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return w.count(int64(d/(24*time.Hour)), unitDay)
	}
	h, m := int64(d/time.Hour), int64(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return w.count(m, unitMinute)
	case m == 0:
		return w.count(h, unitHour)
	case w.and == "":
		return w.count(h, unitHour) + " " + w.count(m, unitMinute)
	default:
		return w.count(h, unitHour) + " " + w.and + " " + w.count(m, unitMinute)
	}
}

func (w *wording) count(n int64, unit int) string {
	form := w.units[unit][1]
	if w.singular(n) {
		form = w.units[unit][0]
	}
	return fmt.Sprintf("%d %s", n, form)
}

// datetime writes t in UTC to the minute: "27 November 2026 at 15:04 UTC",
// "27 novembre 2026 à 15:04 UTC", or "2026-11-27 15:04 UTC" in the neutral
// wording.
func (w *wording) datetime(t time.Time) string {
	t = t.UTC()
	if w.dateTime == nil {
		return t.Format("2006-01-02 15:04") + " UTC"
	}
	return w.dateTime(t.Day(), w.months[t.Month()-1], t.Year(), t.Hour(), t.Minute())
}

// action is the value the layout's "button" template draws: a link and its
// label.
type action struct{ URL, Label string }

// newAction is the HTML template function "action":
// {{template "button" (action .Link "Verify my address")}}.
func newAction(url, label string) action { return action{URL: url, Label: label} }
