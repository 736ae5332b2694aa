// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {Fixture} from "./utils/Fixture.sol";
import {InferencePayment} from "../src/InferencePayment.sol";

/// Fuzz tests of the payment split, both the pure `computeSplit` and real settlements.
contract PaymentSplitFuzzTest is Fixture {
    uint256 internal constant MAX_COST = 1e30;
    uint256 internal constant WHALE_FUNDS = 400_000_000 ether;
    bytes32 internal constant SALT = keccak256("fuzz-task");
    /// The id of alice's task opened with SALT.
    bytes32 internal ID;

    function setUp() public override {
        super.setUp();
        ID = pay.taskIdOf(alice, SALT);
        // alice can escrow a large part of the supply, so settlements reach ~4e26 wei
        vm.prank(admin);
        far.transfer(alice, WHALE_FUNDS);
    }

    /// Node share bounds in percent of the cost: 60% x 110% = 66% at most, 60% x 90% = 54% at least.
    function _assertNodeBounds(uint256 node, uint256 cost, uint256) internal pure {
        assertLe(node, (cost * 66) / 100, "node above 66%");
        assertGe(node, (cost * 54) / 100, "node below 54%");
    }

    // ---------------------------------------------------------------- computeSplit (pure)

    function testFuzz_ComputeSplit_ExactAndBounded(uint256 cost, uint256 score, bool anyStake) public view {
        cost = bound(cost, 0, MAX_COST);
        score = bound(score, 0, 100);
        (uint256 node, uint256 stakers, uint256 treas) = pay.computeSplit(cost, score, anyStake);

        assertEq(node + stakers + treas, cost, "split does not sum to cost");
        _assertNodeBounds(node, cost, score);
        assertEq(stakers, anyStake ? cost / 5 : 0);
        (uint256 mn, uint256 ms, uint256 mt) = _modelSplit(cost, score, anyStake);
        assertEq(node, mn);
        assertEq(stakers, ms);
        assertEq(treas, mt);
        // the treasury never goes negative: it keeps at least 14% (with stakers) or 34% (without)
        assertGe(treas, (cost * (anyStake ? 14 : 34)) / 100);
    }

    function testFuzz_ComputeSplit_MonotoneInScore(uint256 cost, uint256 s1, uint256 s2) public view {
        cost = bound(cost, 0, MAX_COST);
        s1 = bound(s1, 0, 100);
        s2 = bound(s2, s1, 100);
        (uint256 n1,,) = pay.computeSplit(cost, s1, true);
        (uint256 n2,,) = pay.computeSplit(cost, s2, true);
        assertLe(n1, n2, "a better score never pays the node less");
    }

    function testFuzz_RevertWhen_ComputeSplit_ScoreAbove100(uint256 cost, uint256 score) public {
        cost = bound(cost, 0, MAX_COST);
        score = bound(score, 101, type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.ScoreOutOfRange.selector, score));
        pay.computeSplit(cost, score, true);
    }

    // ---------------------------------------------------------------- settlement

    struct Balances {
        uint256 node;
        uint256 treasury;
        uint256 pool;
        uint256 payment;
    }

    function _balances() internal view returns (Balances memory b) {
        b.node = far.balanceOf(node1);
        b.treasury = far.balanceOf(treasury);
        b.pool = far.balanceOf(address(far));
        b.payment = far.balanceOf(address(pay));
    }

    function _expectCompleted(uint256 escrow, uint256 cost, uint256 score, bool withStake) internal {
        (uint256 mn, uint256 ms, uint256 mt) = _modelSplit(cost, score, withStake);
        vm.expectEmit(true, true, true, true, address(pay));
        emit InferencePayment.TaskCompleted(ID, alice, node1, cost, mn, ms, mt, escrow - cost, score);
    }

    function _settleAndCheck(uint256 escrow, uint256 cost, uint256 score, bool withStake, uint256 stakeAmt) internal {
        if (withStake) _stake(bob, stakeAmt);
        _openTask(alice, SALT, escrow);
        Balances memory b0 = _balances();

        _expectCompleted(escrow, cost, score, withStake);
        _complete(ID, node1, cost, score);

        Balances memory b1 = _balances();
        uint256 nodePaid = b1.node - b0.node;
        uint256 stakersPaid = b1.pool - b0.pool;
        uint256 treasPaid = b1.treasury - b0.treasury;
        assertEq(nodePaid + stakersPaid + treasPaid, cost, "payouts != actualCost");
        assertEq(b0.payment - b1.payment, cost, "payment contract lost more than the cost");
        _assertNodeBounds(nodePaid, cost, score);
        assertEq(pay.userBalances(alice), escrow - cost, "refund != escrow - cost");
        assertEq(pay.totalEscrowed(), 0);
        assertEq(b1.payment, pay.totalUserBalances() + pay.totalEscrowed());

        if (withStake) {
            assertEq(stakersPaid, cost / 5);
            assertEq(far.undistributedRevenue(), stakersPaid);
            uint256 share = far.pendingRevenueShare(bob);
            assertLe(share, stakersPaid);
            assertApproxEqAbs(share, stakersPaid, stakeAmt / 1e18 + 1, "sole staker should get the share");
        } else {
            assertEq(stakersPaid, 0);
            assertEq(treasPaid, cost - nodePaid);
        }
    }

    function testFuzz_CompleteTask_SplitWithStakers(uint256 escrow, uint256 cost, uint256 score, uint256 stakeAmt)
        public
    {
        escrow = bound(escrow, 1, USER_FUNDS + WHALE_FUNDS);
        cost = bound(cost, 0, escrow);
        score = bound(score, 0, 100);
        stakeAmt = bound(stakeAmt, 1, USER_FUNDS);
        _settleAndCheck(escrow, cost, score, true, stakeAmt);
    }

    function testFuzz_CompleteTask_SplitWithoutStakers(uint256 escrow, uint256 cost, uint256 score) public {
        escrow = bound(escrow, 1, USER_FUNDS + WHALE_FUNDS);
        cost = bound(cost, 0, escrow);
        score = bound(score, 0, 100);
        _settleAndCheck(escrow, cost, score, false, 0);
    }

    function testFuzz_RevertWhen_CompleteTask_CostAboveEscrow(uint256 escrow, uint256 cost) public {
        escrow = bound(escrow, 1, USER_FUNDS);
        cost = bound(cost, escrow + 1, MAX_COST);
        _openTask(alice, SALT, escrow);
        vm.expectRevert(abi.encodeWithSelector(InferencePayment.CostExceedsEscrow.selector, ID, cost, escrow));
        _complete(ID, node1, cost, 80);
    }
}
