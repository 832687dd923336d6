package testnet

var EphemeralLow = ephemeralLow
