// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {TestBase} from "../utils/TestBase.sol";
import {Handler} from "./Handler.sol";
import {FARToken} from "../../src/FARToken.sol";
import {InferencePayment} from "../../src/InferencePayment.sol";
import {MockPriceFeed} from "../../src/mocks/MockPriceFeed.sol";

/// Stateful fuzzing of both contracts together (runs/depth from foundry.toml: 256 x 64).
/// The supply starts close to the cap (1M FAR of headroom) so that high reward rates reach it.
contract SolvencyInvariantTest is TestBase {
    uint256 internal constant INITIAL_SUPPLY = 999_000_000 ether;
    uint256 internal constant ACTOR_FUNDS = 10_000_000 ether;
    uint256 internal constant HANDLER_FUNDS = 5_000_000 ether;

    FARToken internal far;
    InferencePayment internal pay;
    Handler internal handler;
    address internal admin = vm.addr(0xAD);
    address internal treasury = vm.addr(0x7E);

    function setUp() public {
        far = new FARToken(admin, INITIAL_SUPPLY, 7 days);
        MockPriceFeed feed = new MockPriceFeed(8, 5e7);
        pay = new InferencePayment(admin, address(far), treasury, address(feed), 1 days);

        address[] memory actors = new address[](4);
        for (uint256 i = 0; i < actors.length; i++) {
            actors[i] = vm.addr(0x1000 + i);
        }
        address[] memory nodes = new address[](3);
        for (uint256 i = 0; i < nodes.length; i++) {
            nodes[i] = vm.addr(0x2000 + i);
        }
        handler = new Handler(far, pay, admin, treasury, actors, nodes);

        vm.startPrank(admin);
        far.grantRole(far.REVENUE_ROLE(), address(pay));
        far.grantRole(far.REVENUE_ROLE(), address(handler));
        pay.grantRole(pay.ORACLE_ROLE(), address(handler));
        for (uint256 i = 0; i < actors.length; i++) {
            far.transfer(actors[i], ACTOR_FUNDS);
        }
        far.transfer(address(handler), HANDLER_FUNDS);
        vm.stopPrank();

        for (uint256 i = 0; i < actors.length; i++) {
            vm.prank(actors[i]);
            far.approve(address(pay), type(uint256).max);
        }
        for (uint256 i = 0; i < nodes.length; i++) {
            vm.prank(address(handler));
            pay.registerNode(nodes[i], vm.addr(0x3000 + i));
        }

        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](14);
        selectors[0] = Handler.deposit.selector;
        selectors[1] = Handler.withdraw.selector;
        selectors[2] = Handler.createTask.selector;
        selectors[3] = Handler.completeTask.selector;
        selectors[4] = Handler.completeTasks.selector;
        selectors[5] = Handler.failTask.selector;
        selectors[6] = Handler.cancelTask.selector;
        selectors[7] = Handler.stake.selector;
        selectors[8] = Handler.unstake.selector;
        selectors[9] = Handler.claimRewards.selector;
        selectors[10] = Handler.distribute.selector;
        selectors[11] = Handler.warp.selector;
        selectors[12] = Handler.setRewardRate.selector;
        selectors[13] = Handler.failTasks.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// Fix 2: the payment contract always holds every user balance and every open escrow,
    /// exactly, and its own running totals agree with the handler's ghost accounting.
    function invariant_PaymentSolvency() public view {
        uint256 held = far.balanceOf(address(pay));
        assertEq(held, pay.totalUserBalances() + pay.totalEscrowed(), "balance != totalUserBalances + totalEscrowed");
        assertGe(held, handler.sumUserBalances() + handler.sumOpenEscrows(), "balance < sum(user) + sum(open escrow)");
        assertEq(pay.totalUserBalances(), handler.sumUserBalances(), "totalUserBalances != sum(userBalances)");
        assertEq(pay.totalEscrowed(), handler.sumOpenEscrows(), "totalEscrowed != sum(open escrows)");
        assertEq(pay.totalEscrowed(), handler.ghostOpenEscrow());
        // money conservation: in via deposits, out via withdrawals and settled costs only
        assertEq(held, handler.ghostDeposited() - handler.ghostWithdrawn() - handler.ghostSettledCost());
    }

    /// Every settlement paid node + stakers + treasury == actualCost and refunded escrow - cost.
    function invariant_ExactSplits() public view {
        assertEq(handler.ghostSplitMismatches(), 0, "a settlement's payouts != actualCost");
        assertEq(handler.ghostRefundMismatches(), 0, "a refund != escrow - cost");
        assertEq(handler.ghostSkipMismatches(), 0, "a replayed settlement reopened or paid");
        assertEq(
            handler.ghostNodePaid() + handler.ghostStakerPaid() + handler.ghostTreasuryPaid(),
            handler.ghostSettledCost()
        );
        assertEq(far.balanceOf(treasury), handler.ghostTreasuryPaid(), "treasury got money from elsewhere");
        assertEq(handler.sumNodeBalances(), handler.ghostNodePaid(), "nodes got money from elsewhere");
    }

    /// FARToken holds all staked principal plus unclaimed revenue; the pool is fully accounted.
    function invariant_StakingSolvency() public view {
        assertGe(
            far.balanceOf(address(far)),
            far.totalStaked() + far.undistributedRevenue(),
            "staking pool undercollateralised"
        );
        assertEq(
            far.undistributedRevenue(),
            handler.ghostStakerPaid() + handler.ghostDirectRevenue() - handler.ghostShareClaimed(),
            "undistributedRevenue drifted"
        );
        assertEq(handler.sumStakes(), far.totalStaked(), "sum(stakingBalance) != totalStaked");
    }

    /// Fix 1: rewards never push the supply past the cap.
    function invariant_SupplyCap() public view {
        assertLe(far.totalSupply(), far.cap(), "supply above cap");
        assertEq(far.cap(), 1_000_000_000 ether);
        assertEq(far.totalSupply(), INITIAL_SUPPLY + handler.ghostRewardsMinted(), "unexpected mint");
        assertEq(handler.ghostCapOverflows(), 0);
    }
}
