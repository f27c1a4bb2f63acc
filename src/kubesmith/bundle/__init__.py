"""The offline bundle: every binary and image a cluster needs, built from the
package registries and laid out like the upstream download sites."""
