package rpc

import (
	"encoding/json"
	"errors"
	"net/http"

	"connectrpc.com/connect"
)

var errBodyOnGET = errors.New("body: a GET request must not have a body; " +
	"pass parameters in the path or query")

// writeError answers with the Connect JSON error body and the matching
// HTTP status, the same shape that Connect handlers produce.
func writeError(w http.ResponseWriter, err *connect.Error) {
	status := map[connect.Code]int{
		connect.CodeInvalidArgument: http.StatusBadRequest,
	}[err.Code()]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{
		"code":    err.Code().String(),
		"message": err.Message(),
	})
}
