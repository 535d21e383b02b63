package source

import (
	"bytes"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

func workbook(t *testing.T, rows [][]any) []byte {
	t.Helper()
	f := excelize.NewFile()
	for i, row := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestOpenXLSX(t *testing.T) {
	data := workbook(t, [][]any{
		{"E-mail", "Voornaam", "Klantnummer"},
		{"jan@example.be", "Jan", 1042},
		{},
		{"els@example.be", "Els", 1043},
	})
	tb, err := Open(bytes.NewReader(data), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	if got := strings.Join(tb.Header(), "|"); got != "E-mail|Voornaam|Klantnummer" {
		t.Errorf("header %q", got)
	}
	rows, rowErrs, fatal := readAll(t, tb)
	want := []string{"02:jan@example.be|Jan|1042", "04:els@example.be|Els|1043"}
	if fatal != nil || len(rowErrs) > 0 || strings.Join(rows, ",") != strings.Join(want, ",") {
		t.Errorf("rows %q (errors %v %v), want %q", rows, rowErrs, fatal, want)
	}
	if !strings.Contains(tb.Describe(), "XLSX") {
		t.Errorf("describe %q", tb.Describe())
	}
}
