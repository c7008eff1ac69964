package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

const (
	commandType = "command:local:Command"
	runToken    = "command:local:run"
)

//go:embed schema.json
var schemaJSON string

// Input properties of local:Command (and local:run, which adds `command`).
var commandInputs = []string{
	"addPreviousOutputInEnv", "archivePaths", "assetPaths", "create", "delete", "dir",
	"environment", "interpreter", "logging", "stdin", "triggers", "update",
}

type provider struct {
	pulumirpc.UnimplementedResourceProviderServer
	engine pulumirpc.EngineClient

	mu      sync.Mutex
	secrets bool // the engine accepts secrets
}

func newProvider(engine pulumirpc.EngineClient) *provider { return &provider{engine: engine} }

func (p *provider) opts(label string) plugin.MarshalOptions {
	p.mu.Lock()
	defer p.mu.Unlock()
	return plugin.MarshalOptions{Label: label, KeepUnknowns: true, KeepSecrets: true, SkipNulls: true}
}

func (p *provider) unmarshal(label string, s *structpb.Struct) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, p.opts(label))
}

func (p *provider) marshal(label string, m resource.PropertyMap) (*structpb.Struct, error) {
	o := p.opts(label)
	p.mu.Lock()
	o.KeepSecrets = p.secrets
	p.mu.Unlock()
	return plugin.MarshalProperties(m, o)
}

// ---- plugin-level methods ---------------------------------------------------------------------

func (p *provider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (p *provider) GetSchema(_ context.Context, req *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	if v := req.GetVersion(); v != 0 {
		return nil, fmt.Errorf("unsupported schema version %d", v)
	}
	return &pulumirpc.GetSchemaResponse{Schema: strings.Replace(schemaJSON, "@VERSION@", version, 1)}, nil
}

func (p *provider) Handshake(context.Context, *pulumirpc.ProviderHandshakeRequest) (*pulumirpc.ProviderHandshakeResponse, error) {
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true, AcceptOutputs: false}, nil
}

func (p *provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *provider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *provider) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	p.mu.Lock()
	p.secrets = req.GetAcceptSecrets()
	p.mu.Unlock()
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true}, nil
}

func (p *provider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (p *provider) Attach(context.Context, *pulumirpc.PluginAttach) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (p *provider) GetMapping(context.Context, *pulumirpc.GetMappingRequest) (*pulumirpc.GetMappingResponse, error) {
	return &pulumirpc.GetMappingResponse{}, nil
}

func (p *provider) GetMappings(context.Context, *pulumirpc.GetMappingsRequest) (*pulumirpc.GetMappingsResponse, error) {
	return &pulumirpc.GetMappingsResponse{}, nil
}

func checkType(urn string) error {
	if t := string(resource.URN(urn).Type()); t != commandType {
		return status.Errorf(codes.Unimplemented, "unknown resource type %q (this provider implements %s only)", t, commandType)
	}
	return nil
}

// ---- inputs ------------------------------------------------------------------------------------

type inputs struct {
	create, update, delete *string
	dir, stdin             *string
	interpreter            []string
	environment            map[string]string
	logging                string
	addPrevious            bool
}

func str(m resource.PropertyMap, k string) (*string, error) {
	v, ok := m[resource.PropertyKey(k)]
	if !ok || v.IsNull() {
		return nil, nil
	}
	v = unsecret(v)
	if !v.IsString() {
		return nil, fmt.Errorf("%s: expected a string, got %v", k, v.TypeString())
	}
	s := v.StringValue()
	return &s, nil
}

func unsecret(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

func parseInputs(m resource.PropertyMap) (inputs, error) {
	var in inputs
	var err error
	for _, f := range []struct {
		k string
		p **string
	}{{"create", &in.create}, {"update", &in.update}, {"delete", &in.delete}, {"dir", &in.dir}, {"stdin", &in.stdin}} {
		if *f.p, err = str(m, f.k); err != nil {
			return in, err
		}
	}
	if v, ok := m["interpreter"]; ok && !v.IsNull() {
		v = unsecret(v)
		if !v.IsArray() {
			return in, errors.New("interpreter: expected a list of strings")
		}
		for _, e := range v.ArrayValue() {
			e = unsecret(e)
			if !e.IsString() {
				return in, errors.New("interpreter: expected a list of strings")
			}
			in.interpreter = append(in.interpreter, e.StringValue())
		}
	}
	if v, ok := m["environment"]; ok && !v.IsNull() {
		v = unsecret(v)
		if !v.IsObject() {
			return in, errors.New("environment: expected a map of strings")
		}
		in.environment = map[string]string{}
		for k, e := range v.ObjectValue() {
			e = unsecret(e)
			if !e.IsString() {
				return in, fmt.Errorf("environment.%s: expected a string", k)
			}
			in.environment[string(k)] = e.StringValue()
		}
	}
	in.logging = "stdoutAndStderr"
	if l, err := str(m, "logging"); err != nil {
		return in, err
	} else if l != nil {
		in.logging = *l
	}
	in.addPrevious = true
	if v, ok := m["addPreviousOutputInEnv"]; ok && !v.IsNull() {
		v = unsecret(v)
		if !v.IsBool() {
			return in, errors.New("addPreviousOutputInEnv: expected a bool")
		}
		in.addPrevious = v.BoolValue()
	}
	return in, nil
}

func anySecret(m resource.PropertyMap) bool {
	for _, v := range m {
		if v.ContainsSecrets() {
			return true
		}
	}
	return false
}

// inputsOf keeps the input properties of a state or input map (drops outputs and internal keys).
func inputsOf(m resource.PropertyMap, extra ...string) resource.PropertyMap {
	out := resource.PropertyMap{}
	for _, k := range append(append([]string{}, commandInputs...), extra...) {
		if v, ok := m[resource.PropertyKey(k)]; ok {
			out[resource.PropertyKey(k)] = v
		}
	}
	return out
}

// ---- resource methods --------------------------------------------------------------------------

func (p *provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	news, err := p.unmarshal("check.news", req.GetNews())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	for k := range news {
		if !strings.HasPrefix(string(k), "__") && !contains(commandInputs, string(k)) {
			failures = append(failures, &pulumirpc.CheckFailure{Property: string(k), Reason: fmt.Sprintf("unknown property %q", k)})
		}
	}
	if !news.ContainsUnknowns() {
		if _, err := parseInputs(news); err != nil {
			failures = append(failures, &pulumirpc.CheckFailure{Reason: err.Error()})
		}
	}
	if l, _ := str(news, "logging"); l != nil && !contains([]string{"stdout", "stderr", "stdoutAndStderr", "none"}, *l) &&
		!news["logging"].ContainsUnknowns() {
		failures = append(failures, &pulumirpc.CheckFailure{Property: "logging", Reason: fmt.Sprintf("logging: %q is not one of stdout, stderr, stdoutAndStderr, none", *l)})
	}
	return &pulumirpc.CheckResponse{Inputs: req.GetNews(), Failures: failures}, nil
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func (p *provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	olds, err := p.unmarshal("diff.olds", req.GetOlds())
	if err != nil {
		return nil, err
	}
	if oi := req.GetOldInputs(); oi != nil && len(oi.GetFields()) > 0 {
		if olds, err = p.unmarshal("diff.oldInputs", oi); err != nil {
			return nil, err
		}
	}
	news, err := p.unmarshal("diff.news", req.GetNews())
	if err != nil {
		return nil, err
	}
	oi, ni := inputsOf(olds), inputsOf(news)
	for _, k := range req.GetIgnoreChanges() {
		delete(oi, resource.PropertyKey(k))
		delete(ni, resource.PropertyKey(k))
	}
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true,
		DetailedDiff: map[string]*pulumirpc.PropertyDiff{}}
	for _, k := range commandInputs {
		key := resource.PropertyKey(k)
		ov, inOld := oi[key]
		nv, inNew := ni[key]
		if !inOld && !inNew {
			continue
		}
		var kind pulumirpc.PropertyDiff_Kind
		switch {
		case !inOld:
			kind = pulumirpc.PropertyDiff_ADD
		case !inNew:
			kind = pulumirpc.PropertyDiff_DELETE
		case nv.ContainsUnknowns() || !unwrapAll(ov).DeepEquals(unwrapAll(nv)):
			kind = pulumirpc.PropertyDiff_UPDATE
		default:
			continue
		}
		if k == "triggers" {
			kind += pulumirpc.PropertyDiff_ADD_REPLACE - pulumirpc.PropertyDiff_ADD
			resp.Replaces = append(resp.Replaces, k)
		}
		resp.Diffs = append(resp.Diffs, k)
		resp.DetailedDiff[k] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	sort.Strings(resp.Diffs)
	return resp, nil
}

// unwrapAll removes secret markers at every level (diffs compare plain values).
func unwrapAll(v resource.PropertyValue) resource.PropertyValue {
	v = unsecret(v)
	switch {
	case v.IsArray():
		a := make([]resource.PropertyValue, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			a[i] = unwrapAll(e)
		}
		return resource.NewArrayProperty(a)
	case v.IsObject():
		o := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			o[k] = unwrapAll(e)
		}
		return resource.NewObjectProperty(o)
	}
	return v
}

func (p *provider) outputs(state resource.PropertyMap, secret bool, stdout, stderr *string) {
	set := func(k string, s *string) {
		var v resource.PropertyValue
		if s == nil {
			v = resource.MakeComputed(resource.NewStringProperty(""))
		} else {
			v = resource.NewStringProperty(*s)
		}
		if secret && s != nil {
			v = resource.MakeSecret(v)
		}
		state[resource.PropertyKey(k)] = v
	}
	set("stdout", stdout)
	set("stderr", stderr)
}

func (p *provider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	props, err := p.unmarshal("create.properties", req.GetProperties())
	if err != nil {
		return nil, err
	}
	urn := resource.URN(req.GetUrn())
	id, err := resource.NewUniqueHex(urn.Name(), 8, 0)
	if err != nil {
		return nil, err
	}
	state := inputsOf(props)
	secret := anySecret(props)
	if req.GetPreview() {
		p.outputs(state, secret, nil, nil)
		return p.createResponse(id, state)
	}
	in, err := parseInputs(props)
	if err != nil {
		return nil, err
	}
	empty := ""
	stdout, stderr := &empty, &empty
	if in.create != nil {
		res, err := p.run(ctx, urn, *in.create, in, "", "")
		if err != nil {
			return nil, err
		}
		stdout, stderr = &res.stdout, &res.stderr
	}
	p.outputs(state, secret, stdout, stderr)
	return p.createResponse(id, state)
}

func (p *provider) createResponse(id string, state resource.PropertyMap) (*pulumirpc.CreateResponse, error) {
	s, err := p.marshal("create.state", state)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: s}, nil
}

func prevOutput(m resource.PropertyMap, k string) string {
	if v, ok := m[resource.PropertyKey(k)]; ok {
		if v = unsecret(v); v.IsString() {
			return v.StringValue()
		}
	}
	return ""
}

func (p *provider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	olds, err := p.unmarshal("update.olds", req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := p.unmarshal("update.news", req.GetNews())
	if err != nil {
		return nil, err
	}
	urn := resource.URN(req.GetUrn())
	state := inputsOf(news)
	secret := anySecret(news)
	oldOut, oldErr := prevOutput(olds, "stdout"), prevOutput(olds, "stderr")
	in, perr := parseInputs(news)
	cmd := (*string)(nil)
	if perr == nil {
		cmd = in.create
		if in.update != nil {
			cmd = in.update
		}
	}
	switch {
	case req.GetPreview() && (perr != nil || cmd != nil || news.ContainsUnknowns()):
		p.outputs(state, secret, nil, nil) // the command will run: its outputs are unknown
	case req.GetPreview() || cmd == nil:
		if perr != nil {
			return nil, perr
		}
		p.outputs(state, secret || anySecret(olds), &oldOut, &oldErr)
	default:
		if perr != nil {
			return nil, perr
		}
		res, err := p.run(ctx, urn, *cmd, in, oldOut, oldErr)
		if err != nil {
			return nil, err
		}
		p.outputs(state, secret, &res.stdout, &res.stderr)
	}
	s, err := p.marshal("update.state", state)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: s}, nil
}

func (p *provider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	olds, err := p.unmarshal("delete.olds", req.GetProperties())
	if err != nil {
		return nil, err
	}
	in, err := parseInputs(olds)
	if err != nil {
		return nil, err
	}
	if in.delete != nil {
		if _, err := p.run(ctx, resource.URN(req.GetUrn()), *in.delete, in,
			prevOutput(olds, "stdout"), prevOutput(olds, "stderr")); err != nil {
			return nil, err
		}
	}
	return &emptypb.Empty{}, nil
}

func (p *provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	// Nothing to refresh: a command's state is what it printed.
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *provider) Invoke(ctx context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	if req.GetTok() != runToken {
		return nil, status.Errorf(codes.Unimplemented, "unknown function %q (this provider implements %s only)", req.GetTok(), runToken)
	}
	args, err := p.unmarshal("invoke.args", req.GetArgs())
	if err != nil {
		return nil, err
	}
	command, err := str(args, "command")
	if err != nil || command == nil {
		return &pulumirpc.InvokeResponse{Failures: []*pulumirpc.CheckFailure{{Property: "command", Reason: "missing required property 'command'"}}}, nil
	}
	in, err := parseInputs(args)
	if err != nil {
		return nil, err
	}
	res, err := p.run(ctx, "", *command, in, "", "")
	if err != nil {
		return nil, err
	}
	out := inputsOf(args, "command")
	delete(out, "create")
	delete(out, "update")
	delete(out, "delete")
	delete(out, "triggers")
	p.outputs(out, anySecret(args), &res.stdout, &res.stderr)
	s, err := p.marshal("invoke.return", out)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: s}, nil
}

// ---- running commands --------------------------------------------------------------------------

type result struct{ stdout, stderr string }

// lockedWriter serialises writes from the stdout and stderr copiers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (p *provider) run(ctx context.Context, urn resource.URN, command string, in inputs,
	prevStdout, prevStderr string,
) (result, error) {
	args := in.interpreter
	if len(args) == 0 {
		args = []string{"/bin/sh", "-c"}
	}
	args = append(append([]string{}, args...), command)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	if in.dir != nil {
		cmd.Dir = *in.dir
	} else if wd, err := os.Getwd(); err == nil {
		cmd.Dir = wd
	}
	cmd.Env = os.Environ()
	keys := make([]string, 0, len(in.environment))
	for k := range in.environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+in.environment[k])
	}
	if in.addPrevious {
		if prevStdout != "" {
			cmd.Env = append(cmd.Env, "PULUMI_COMMAND_STDOUT="+prevStdout)
		}
		if prevStderr != "" {
			cmd.Env = append(cmd.Env, "PULUMI_COMMAND_STDERR="+prevStderr)
		}
	}
	if in.stdin != nil && *in.stdin != "" {
		cmd.Stdin = strings.NewReader(*in.stdin)
	}

	var stdout, stderr, combined bytes.Buffer
	comb := &lockedWriter{w: &combined}
	pr, pw := io.Pipe()
	logw := &lockedWriter{w: pw}
	outW := []io.Writer{&stdout, comb}
	errW := []io.Writer{&stderr, comb}
	if in.logging == "stdout" || in.logging == "stdoutAndStderr" {
		outW = append(outW, logw)
	}
	if in.logging == "stderr" || in.logging == "stdoutAndStderr" {
		errW = append(errW, logw)
	}
	cmd.Stdout = io.MultiWriter(outW...)
	cmd.Stderr = io.MultiWriter(errW...)

	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
		for sc.Scan() {
			p.log(ctx, urn, sc.Text())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	_ = pw.Close()
	<-done
	if err != nil {
		return result{}, fmt.Errorf("%w: running %q:\n%s", err, command, combined.String())
	}
	return result{
		stdout: strings.TrimSuffix(stdout.String(), "\n"),
		stderr: strings.TrimSuffix(stderr.String(), "\n"),
	}, nil
}

func (p *provider) log(ctx context.Context, urn resource.URN, line string) {
	if p.engine == nil {
		return
	}
	_, _ = p.engine.Log(ctx, &pulumirpc.LogRequest{
		Severity: pulumirpc.LogSeverity_INFO,
		Message:  strings.ToValidUTF8(line, "\uFFFD"),
		Urn:      string(urn),
	})
}
