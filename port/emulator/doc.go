// Package emulator is an in-memory Port API served over real HTTP.
//
// It enforces what a daemon depends on (auth and token expiry, envelopes,
// the integration record, blueprints, bulk limits, upsert and merge,
// datasource ownership from the User-Agent, the datasource listing with
// `before`) so that passing against it means something. Tests, `oceand demo`,
// `oceand bench` and `oceand port-emulator` use it; it is also how a user
// tries a mapping without a Port account.
package emulator
