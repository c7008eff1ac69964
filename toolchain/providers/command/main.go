// pulumi-resource-command: a small Pulumi resource provider implementing what the pulumi_command
// 1.2.1 SDK needs for `command:local:Command` and the `command:local:run` invoke, written against
// the raw ResourceProvider gRPC interface of github.com/pulumi/pulumi/sdk/v3 (the upstream provider
// module github.com/pulumi/pulumi-command/provider and github.com/pulumi/pulumi-go-provider are not
// served by the Go module proxy here).
//
// Behaviour follows pulumi-command 1.2.1's local.Command:
//   - Create runs `create`, Update runs `update` (or `create` when `update` is unset), Delete runs
//     `delete`; nothing runs during preview (stdout/stderr are then unknown).
//   - commands run as `<interpreter...> <command>` (default /bin/sh -c), in `dir` (default: the
//     provider's working directory, i.e. the project directory), with the provider's environment plus
//     `environment`, plus PULUMI_COMMAND_STDOUT/PULUMI_COMMAND_STDERR holding the previous outputs
//     unless addPreviousOutputInEnv is false; `stdin` is fed to the process.
//   - stdout/stderr outputs have one trailing newline trimmed; the engine log gets the output
//     according to `logging` (stdout|stderr|stdoutAndStderr (default)|none).
//   - a changed `triggers` forces replacement; any other input change is an update.
//   - outputs are secret when any input is secret (as pulumi-go-provider's infer does);
//     additionalSecretOutputs is applied by the engine.
//
// Not implemented: assetPaths/archivePaths (assets/archive outputs stay unset), remote:*, the
// command:local:run invoke's asset outputs.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/grpclog"
)

// version is what GetPluginInfo reports; set with -ldflags "-X main.version=1.2.1".
var version = "1.2.1"

func init() { grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, os.Stderr)) }

func main() {
	if err := serve(); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command: %v\n", err)
		os.Exit(1)
	}
}

func serve() error {
	flag.String("tracing", "", "ignored")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var engine pulumirpc.EngineClient
	if args := flag.Args(); len(args) > 0 {
		conn, err := grpc.NewClient(args[0],
			grpc.WithTransportCredentials(insecure.NewCredentials()), rpcutil.GrpcChannelOptions())
		if err != nil {
			return fmt.Errorf("could not connect to host RPC: %w", err)
		}
		defer conn.Close()
		engine = pulumirpc.NewEngineClient(conn)
		if err := rpcutil.Healthcheck(ctx, args[0], 5*time.Minute, cancel); err != nil {
			return fmt.Errorf("could not start health check host RPC server: %w", err)
		}
	}
	cancelCh := make(chan bool)
	go func() { <-ctx.Done(); close(cancelCh) }()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancelCh,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, newProvider(engine))
			return nil
		},
	})
	if err != nil {
		return err
	}
	// The provider protocol: print the chosen port, then serve until told to stop.
	fmt.Printf("%d\n", handle.Port)
	return <-handle.Done
}
