package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	flashsalev1 "github.com/flashsale/flashsale/gen/flashsale/v1"
)

func bindReport(*flag.FlagSet) action {
	return func(ctx context.Context, s *session, args []string) error {
		res, err := send(ctx, &flashsalev1.GetSaleReportRequest{SaleId: args[0]},
			s.client.GetSaleReport)
		if err != nil {
			return err
		}
		return s.out.report(res)
	}
}

// report prints whether the analytics agree with the orders first, since
// that says how far to trust the counts below it; then what the event
// stream counted, and what PostgreSQL's orders hold. A disagreement is part
// of the answer, not a failure: the exit code stays 0.
func (p printer) report(res *flashsalev1.GetSaleReportResponse) error {
	return p.print(res, func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "sale\t%s\n", res.GetSaleId())
		fmt.Fprintf(tw, "status\t%s\n", res.GetStatus())
		fmt.Fprintf(tw, "generated\t%s\n", stamp(res.GetGeneratedAt()))
		fmt.Fprintf(tw, "consistent\t%s\n", consistency(res))
		_ = tw.Flush() // the tables below have their own columns
		for _, d := range res.GetDiscrepancies() {
			fmt.Fprintf(tw, "  %s\n", d)
		}
		fmt.Fprint(tw, "\nevents (analytics store)\n")
		eventCounts(tw, res.GetProducts())
		_ = tw.Flush()
		fmt.Fprint(tw, "\norders (PostgreSQL)\n")
		orderCounts(tw, res.GetProducts())
	})
}

func consistency(res *flashsalev1.GetSaleReportResponse) string {
	if res.GetConsistent() {
		return "yes: the analytics agree with the PostgreSQL orders"
	}
	return "no: the analytics disagree with the PostgreSQL orders:"
}

func eventCounts(tw *tabwriter.Writer, lines []*flashsalev1.ProductReport) {
	fmt.Fprintln(tw, "PRODUCT\tSOLD\tREVENUE_MINOR\tHOLDS\tCONFIRMS\tRELEASES\tEXPIRIES\t"+
		"REFUNDS\tCONVERSION\tREJECTIONS")
	for _, l := range lines {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", l.GetProductId(),
			l.GetUnitsSold(), money(l.GetRevenue(), l.GetCurrency()), l.GetHolds(),
			l.GetConfirms(), l.GetReleases(), l.GetExpiries(), l.GetRefundsRequired(),
			conversion(l), rejections(l))
	}
}

func orderCounts(tw *tabwriter.Writer, lines []*flashsalev1.ProductReport) {
	fmt.Fprintln(tw, "PRODUCT\tNAME\tTOTAL\tORDERS\tUNITS\tREVENUE_MINOR\tAGREES")
	for _, l := range lines {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\n", l.GetProductId(), l.GetName(),
			l.GetTotalQty(), l.GetOrdersCount(), l.GetOrdersUnits(),
			money(l.GetOrdersRevenue(), l.GetCurrency()), yesNo(l.GetConsistent()))
	}
}

// money is an amount in minor units, followed by its currency when known.
func money(minor int64, currency string) string {
	if currency == "" {
		return fmt.Sprint(minor)
	}
	return fmt.Sprintf("%d %s", minor, currency)
}

// conversion is confirms per hold as a percentage; "-" without holds, where
// the server's 0 would read as a failed sale.
func conversion(l *flashsalev1.ProductReport) string {
	if l.GetHolds() == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*l.GetConversion())
}

// rejections is the total, then the count of each reason in a stable order.
func rejections(l *flashsalev1.ProductReport) string {
	byReason := l.GetRejections()
	if len(byReason) == 0 {
		return fmt.Sprint(l.GetRejectionsTotal())
	}
	parts := make([]string, 0, len(byReason))
	for _, reason := range slices.Sorted(maps.Keys(byReason)) {
		parts = append(parts, fmt.Sprintf("%s %d", reason, byReason[reason]))
	}
	return fmt.Sprintf("%d (%s)", l.GetRejectionsTotal(), strings.Join(parts, ", "))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
