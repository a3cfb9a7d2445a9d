"""The built-in accelerators, one YAML file each; shipped inside the package as `edgesim.hw_configs`."""
