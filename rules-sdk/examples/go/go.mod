module conform.example/rules-sdk/examples/go

go 1.24

require conform.example/rules-sdk/go v0.0.0

replace conform.example/rules-sdk/go => ../../go
