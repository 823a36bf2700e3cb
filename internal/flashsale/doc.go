// Package flashsale is the domain at the centre of the service: sales, holds,
// orders, the errors they produce and the ports that adapters implement.
//
// It imports no driver, SDK or generated code. Adapters named after their
// technology (internal/postgres, internal/redis) implement the ports; the RPC
// layer (internal/rpc) is the only place that turns these types into protobuf
// messages and these errors into Connect codes.
package flashsale
