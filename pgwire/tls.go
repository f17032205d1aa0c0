package pgwire

import (
	"bufio"
	"crypto/tls"
)

// startTLS answers an SSLRequest with 'S' and runs the TLS handshake (the
// startup deadline still applies); the rest of the connection, startup
// packet included, goes over TLS.
func (c *conn) startTLS() error {
	// Bytes the client sent after SSLRequest but before the handshake would
	// be read as if they came over TLS (CVE-2021-23214): refuse them.
	if c.br.Buffered() > 0 {
		return protocolViolation("received unencrypted data after SSL request")
	}
	if _, err := c.nc.Write([]byte{'S'}); err != nil {
		return err
	}
	tc := tls.Server(c.nc, c.srv.opts.TLS)
	if err := tc.HandshakeContext(c.ctx); err != nil {
		c.log.Info("pgwire: TLS handshake failed", "err", err)
		return errCloseConn
	}
	c.nc = tc
	c.br = bufio.NewReaderSize(tc, 16<<10)
	c.tls = true
	return nil
}
