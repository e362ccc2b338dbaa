//go:build tools

// Package tools pins the Python language host this project builds beside the Pulumi CLI.
//
// Why v3.68.0 of the sdk module: the language host at the CLI's own release lives in the nested
// module github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3, which the Go module
// proxy reachable from this project's machines does not serve at any version (403 "This module
// version is not available"). Until Pulumi split it out (pulumi/pulumi#13819, August 2023) the
// host was part of github.com/pulumi/pulumi/sdk/v3; v3.68.0 is the newest such version the proxy
// serves. See README "The Pulumi CLI" for what this older host does differently.
package tools

import (
	_ "github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python"
)
