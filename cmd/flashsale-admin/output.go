package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
)

// printer writes a response as a table for people or, with --output json,
// as the protojson of the whole response for scripts. JSON includes fields
// whose value is zero, so a script never meets a missing key.
type printer struct {
	w    io.Writer
	json bool
}

var jsonOut = protojson.MarshalOptions{EmitUnpopulated: true}

// print writes msg as JSON, or calls table with a column writer.
func (p printer) print(msg proto.Message, table func(tw *tabwriter.Writer)) error {
	if p.json {
		b, err := jsonOut.Marshal(msg)
		if err != nil {
			return err
		}
		// protojson varies its spacing on purpose; indent it one stable way.
		var out bytes.Buffer
		if err := json.Indent(&out, b, "", "  "); err != nil {
			return err
		}
		out.WriteByte('\n')
		_, err = out.WriteTo(p.w)
		return err
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

func (p printer) created(saleID string, res *flashsalev1.CreateFlashSaleResponse) error {
	return p.print(res, func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "sale %s: %s, %s\n", saleID, res.GetStatus(), res.GetMessage())
	})
}

func (p printer) upserted(res *flashsalev1.UpsertProductsResponse) error {
	return p.print(res, func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "upserted %d products\n", res.GetUpserted())
	})
}

func (p printer) list(status string, res *flashsalev1.ListFlashSalesResponse) error {
	return p.print(res, func(tw *tabwriter.Writer) {
		if len(res.GetSales()) == 0 {
			fmt.Fprintln(tw, noSales(status))
			return
		}
		fmt.Fprintln(tw, "SALE\tSTATUS\tSTART\tEND\tDISCOUNT")
		for _, s := range res.GetSales() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d%%\n", s.GetSaleId(), s.GetStatus(),
				stamp(s.GetStartTime()), stamp(s.GetEndTime()), s.GetDiscountPercent())
		}
	})
}

func noSales(status string) string {
	if status == "" {
		return "no sales"
	}
	return "no " + status + " sales"
}

// sale prints the sale of res. Only GetFlashSale reads live availability
// from Redis; the other answers leave it out, so live says whether to show
// that column.
func (p printer) sale(res proto.Message, s *flashsalev1.FlashSale, live bool) error {
	return p.print(res, func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "sale\t%s\n", s.GetSaleId())
		fmt.Fprintf(tw, "status\t%s\n", s.GetStatus())
		fmt.Fprintf(tw, "window\t%s to %s\n", stamp(s.GetStartTime()), stamp(s.GetEndTime()))
		fmt.Fprintf(tw, "discount\t%d%%\n", s.GetDiscountPercent())
		fmt.Fprintf(tw, "per-user limit\t%d per product\n", s.GetPerUserLimit())
		fmt.Fprintf(tw, "created\t%s\n", stamp(s.GetCreatedAt()))
		_ = tw.Flush() // the product table has its own columns
		fmt.Fprintln(tw)
		products(tw, s.GetProducts(), live)
	})
}

// products prints prices in minor units, as the API carries them.
func products(tw *tabwriter.Writer, lines []*flashsalev1.FlashSaleProduct, live bool) {
	head := "PRODUCT\tNAME\tTOTAL\tSOLD\t"
	if live {
		head += "AVAILABLE\t"
	}
	fmt.Fprintln(tw, head+"PRICE_MINOR\tSALE_PRICE_MINOR\tCURRENCY")
	for _, l := range lines {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t", l.GetProductId(), l.GetName(), l.GetTotalQty(),
			l.GetSoldQty())
		if live {
			fmt.Fprintf(tw, "%d\t", l.GetAvailableQty())
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\n", l.GetOriginalPrice(), l.GetSalePrice(), l.GetCurrency())
	}
}

func stamp(t *timestamppb.Timestamp) string {
	if t == nil {
		return "-"
	}
	return t.AsTime().UTC().Format(time.RFC3339)
}
